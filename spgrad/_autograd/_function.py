"""The base class of spgrad's autograd Functions."""

import inspect

import torch


class Function(torch.autograd.Function):
    """A ``torch.autograd.Function`` whose calls do not rebuild the forward's signature.

    A Function with a separate ``setup_context`` (which ``torch.func`` transforms need) has
    each ``apply`` bind its arguments to ``inspect.signature(cls.forward)``, and building that
    signature costs a fifth of a small product (about 12 µs of a 60 µs SpMV at n = 100).
    Every subclass that defines ``forward`` stores the signature as the function's
    ``__signature__``, which ``inspect.signature`` then returns as it is.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        forward = cls.__dict__.get("forward")
        if isinstance(forward, staticmethod):
            forward.__func__.__signature__ = inspect.signature(forward.__func__)
