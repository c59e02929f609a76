"""The datasets of the companion: :mod:`~harmonic.datasets.registry` names them all (classes,
channels, image size, reader); the readers are :mod:`~harmonic.datasets.mnist` (IDX files),
:mod:`~harmonic.datasets.cifar` (CIFAR pickles, the WRN augmentation) and
:mod:`~harmonic.datasets.imagefolder` (ImageNet-style trees)."""
