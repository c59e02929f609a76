"""Model builders: plain and harmonic WRN and ResNet-50."""

from .resnet import resnet50
from .wrn import WideBasicBlock, WideResNet, wrn

__all__ = ["WideBasicBlock", "WideResNet", "resnet50", "wrn"]
