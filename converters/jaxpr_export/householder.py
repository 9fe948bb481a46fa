"""Householder reflections, unrolled for static sizes: qr, householder_product, hessenberg, tridiagonal. (work in progress)"""
