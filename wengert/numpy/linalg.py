"""`wengert.numpy.linalg`: differentiable linear algebra."""
