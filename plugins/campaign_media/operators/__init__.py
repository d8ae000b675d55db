"""Operators: the Airflow face of the lifecycle steps and of single API actions.

Each operator owns the Airflow concerns (templated fields, connection IDs, lazy hooks, the data
interval, XCom shapes, mapped-task labels) and calls a step (``campaign_media.steps``) or a
hook; the domain modules (masters, renditions, windows, metrics) stay below them.
"""

from campaign_media.operators.cloudinary import CloudinaryAccessControlOperator, CloudinaryUploadOperator
from campaign_media.operators.governance import (
    ApplyUsageWindowsOperator,
    ArchiveCampaignOperator,
    DeadlinesOperator,
    DeliveryReportOperator,
    SelectCampaignsOperator,
)
from campaign_media.operators.ingest import IngestMastersOperator, IngestReportOperator, PlanIngestOperator
from campaign_media.operators.markets import (
    FinishVideoRenditionsOperator,
    MakeRenditionsOperator,
    PlanRenditionsOperator,
    PublishDeliveryOperator,
)
from campaign_media.operators.photoshelter import PhotoShelterGalleryToManifestOperator

__all__ = [
    "ApplyUsageWindowsOperator", "ArchiveCampaignOperator", "CloudinaryAccessControlOperator",
    "CloudinaryUploadOperator", "DeadlinesOperator", "DeliveryReportOperator", "IngestMastersOperator",
    "IngestReportOperator",
    "MakeRenditionsOperator", "PhotoShelterGalleryToManifestOperator", "PlanIngestOperator",
    "PlanRenditionsOperator", "PublishDeliveryOperator", "FinishVideoRenditionsOperator", "SelectCampaignsOperator",
]
