"""Complex values as (real, imaginary) pairs: fft, complex, real, imag, conj. (work in progress)"""
