select repeat('x', 10000000) s from range(200)
