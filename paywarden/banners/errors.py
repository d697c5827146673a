from __future__ import annotations

from paywarden.kit.errors import AppError, NotFound


class BannerNotFound(NotFound):
    message = "Banner not found"


class InvalidImage(AppError):
    code = "INVALID_IMAGE"
    message = "The image must be a WebP or JPEG file"


class ImageTooLarge(AppError):
    status = 413
    code = "IMAGE_TOO_LARGE"
    message = "The image is too large"


class EmptyUpdate(AppError):
    code = "EMPTY_UPDATE"
    message = "No fields to update"
