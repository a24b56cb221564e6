select length(repeat('x', 2000000000))
