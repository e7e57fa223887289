/* realmath.h — libm names for tg_real, so kernels compile as float or double without
 * silent promotion to double (-Wdouble-promotion keeps us honest). */
#ifndef TG_REALMATH_H
#define TG_REALMATH_H
#include <math.h>
#ifdef TG_DOUBLE
#define R_EXP exp
#define R_LOG log
#define R_LOG1P log1p
#define R_SQRT sqrt
#define R_FABS fabs
#define R_TANH tanh
#define R_POW pow
#define R_SIN sin
#define R_COS cos
#define R_FMIN fmin
#define R_FMAX fmax
#else
#define R_EXP expf
#define R_LOG logf
#define R_LOG1P log1pf
#define R_SQRT sqrtf
#define R_FABS fabsf
#define R_TANH tanhf
#define R_POW powf
#define R_SIN sinf
#define R_COS cosf
#define R_FMIN fminf
#define R_FMAX fmaxf
#endif
#endif
