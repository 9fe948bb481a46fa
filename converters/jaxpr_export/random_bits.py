"""XLA's counter-based generators: rng_bit_generator (and why rng_uniform cannot be reproduced). (work in progress)"""
