"""Eigen- and singular value decompositions for static sizes: eigh, svd, eig, schur. (work in progress)"""
