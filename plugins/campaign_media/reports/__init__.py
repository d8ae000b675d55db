"""The delivery report: the pandas join of PhotoShelter metadata and Cloudinary usage (``frame``) and its HTML page
(``html``), both pure."""
