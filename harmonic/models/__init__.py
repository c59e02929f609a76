"""Model builders: plain and harmonic WRN and ResNet-50/101."""

from harmonic.models.resnet import resnet50, resnet101
from harmonic.models.wrn import WideBasicBlock, WideResNet, wrn

__all__ = ["WideBasicBlock", "WideResNet", "resnet101", "resnet50", "wrn"]
