"""LU with partial pivoting, rank-one Cholesky updates and tridiagonal solves, unrolled for static sizes. (work in progress)"""
