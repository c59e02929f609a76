"""Speed machinery of :class:`harmonic.layers.HarmonicConv2d`, one technique a module.

The block itself (eqs. 1-3 of Ulicny et al., BMVC 2019) is ``harmonic/layers.py``; everything
here computes the same values faster and is tested against it (``tests/test_fast_*.py``):

- :mod:`.geometry`: output size, zero padding and strided window views of the input;
- :mod:`.moments`: spectral-BN batch statistics from patch moments (CPU) or the maps (CUDA);
- :mod:`.fold`: spectral BN folded into one convolution, one autograd node;
- :mod:`.patch`: eqs. 1-3 on the unfolded input patches;
- :mod:`.cache`: the merged kernel cached in eval mode;
- :mod:`.forms`: which of these a forward call takes.

Nothing here imports :mod:`harmonic.layers`: these are functions of tensors and geometry.
Measurements: ``benchmarks/README.md``.
"""
