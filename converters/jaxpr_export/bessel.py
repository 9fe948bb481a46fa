"""Exponentially scaled modified Bessel functions bessel_i0e and bessel_i1e: Cephes'
float32 Chebyshev series (the ones XLA evaluates), on [0, 8] in x/2 - 2 and above 8
in 32/x - 2 over sqrt(x), summed by Clenshaw's recurrence."""

from __future__ import annotations

from axonnx.converters.jaxpr_export.special import Math
from axonnx.converters.jaxpr_export.tracer import Tracer, rule

_I0E_LOW = (
    -1.30002500998624804212e-8, 6.04699502254191894932e-8, -2.67079385394061173391e-7,
    1.11738753912010371815e-6, -4.41673835845875056359e-6, 1.64484480707288970893e-5,
    -5.75419501008210370398e-5, 1.88502885095841655729e-4, -5.76375574538582365885e-4,
    1.63947561694133579842e-3, -4.32430999505057594430e-3, 1.05464603945949983183e-2,
    -2.37374148058994688156e-2, 4.93052842396707084878e-2, -9.49010970480476444210e-2,
    1.71620901522208775349e-1, -3.04682672343198398683e-1, 6.76795274409476084995e-1,
)  # fmt: skip
_I0E_HIGH = (
    3.39623202570838634515e-9, 2.26666899049817806459e-8, 2.04891858946906374183e-7,
    2.89137052083475648297e-6, 6.88975834691682398426e-5, 3.36911647825569408990e-3,
    8.04490411014108831608e-1,
)  # fmt: skip
_I1E_LOW = (
    9.38153738649577178388e-9, -4.44505912879632808065e-8, 2.00329475355213526229e-7,
    -8.56872026469545474066e-7, 3.47025130813767847674e-6, -1.32731636560394358279e-5,
    4.78156510755005422638e-5, -1.61760815825896745588e-4, 5.12285956168575772895e-4,
    -1.51357245063125314899e-3, 4.15642294431288815669e-3, -1.05640848946261981558e-2,
    2.47264490306265168283e-2, -5.29459812080949914269e-2, 1.02643658689847095384e-1,
    -1.76416518357834055153e-1, 2.52587186443633654823e-1,
)  # fmt: skip
_I1E_HIGH = (
    -3.83538038596423702205e-9, -2.63146884688951950684e-8, -2.51223623787020892529e-7,
    -3.88256480887769039346e-6, -1.10588938762623716291e-4, -9.76109749136146840777e-3,
    7.78576235018280120474e-1,
)  # fmt: skip


def _chebyshev(m: Math, x: str, coefficients: tuple[float, ...]) -> str:
    """The Chebyshev series with `coefficients` (highest first) at `x` (Clenshaw)."""
    b0, b1, b2 = m.c(coefficients[0]), m.c(0.0), m.c(0.0)
    for c in coefficients[1:]:
        b2, b1 = b1, b0
        b0 = m.Add(m.Sub(m.Mul(x, b1), b2), c)
    return m.Mul(m.Sub(b0, b2), 0.5)


def _scaled(m: Math, z: str, low: tuple, high: tuple, times_z: bool) -> str:
    """The two-piece series of |x| = `z`: low on [0, 8] (times z for i1e), high above."""
    near = _chebyshev(m, m.Sub(m.Mul(z, 0.5), 2.0), low)
    near = m.Mul(z, near) if times_z else near
    far = m.Div(_chebyshev(m, m.Sub(m.Div(32.0, z), 2.0), high), m.Sqrt(z))
    return m.where(m.LessOrEqual(z, 8.0), near, far)


@rule("bessel_i0e", onnx="Cephes' float32 Chebyshev series in Mul/Add (two pieces, Where)")
def _bessel_i0e(t: Tracer, eqn, args: list[str]) -> str:
    m = Math(t, eqn.invars[0].aval.dtype)
    return _scaled(m, m.Abs(args[0]), _I0E_LOW, _I0E_HIGH, False)


@rule("bessel_i1e", onnx="Cephes' float32 Chebyshev series in Mul/Add (two pieces, Where), Sign")
def _bessel_i1e(t: Tracer, eqn, args: list[str]) -> str:
    m = Math(t, eqn.invars[0].aval.dtype)
    value = _scaled(m, m.Abs(args[0]), _I1E_LOW, _I1E_HIGH, True)
    return m.Mul(m.Sign(args[0]), value)
