"""The torch bridge: autograd Functions for heavy numeric phases and the differentiable
versions of the container operations. Imported only when torch tensors are involved."""
