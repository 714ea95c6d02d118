"""AprilGAN (arXiv 2305.17382): CLIP patch tokens, trained linear maps, prompt-ensemble scores."""

from iadbench_methods.aprilgan.adapter import AprilGAN
from iadbench_methods.aprilgan.options import AprilGANOptions

__all__ = ["AprilGAN", "AprilGANOptions"]
