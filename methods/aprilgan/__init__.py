"""AprilGAN (arXiv 2305.17382): CLIP patch tokens, trained linear maps, prompt-ensemble scores."""

from .adapter import AprilGAN
from .options import AprilGANOptions

__all__ = ["AprilGAN", "AprilGANOptions"]
