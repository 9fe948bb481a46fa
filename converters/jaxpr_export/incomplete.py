"""Incomplete gamma and beta functions: igamma, igammac, igamma_grad_a, regularized_incomplete_beta. (work in progress)"""
