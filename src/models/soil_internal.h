/* soil_internal.h — math names shared by the constitutive relations (tg_real-typed libm,
 * plus the two the core's realmath.h does not carry). */
#ifndef TG_MODELS_SOIL_INTERNAL_H
#define TG_MODELS_SOIL_INTERNAL_H
#include "core/realmath.h"
#ifdef TG_DOUBLE
#define R_EXPM1 expm1
#else
#define R_EXPM1 expm1f
#endif
#endif
