"""What every step stands on: object storage paths and documents, the audit trail, run claims, thread pools."""
