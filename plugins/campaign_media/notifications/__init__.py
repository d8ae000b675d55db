"""What Cloudinary tells the project without being asked: the webhook receiver (``receiver``)."""
