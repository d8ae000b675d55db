"""What several steps share: a campaign's galleries, delivery URLs and manifests, write-back links, campaign
selection."""
