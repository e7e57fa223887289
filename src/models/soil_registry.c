/* soil_registry.c — constitutive relations by name (configs, the CLI). */
#include <string.h>

#include "terragrad/adjoint.h"

const tg_soil *tg_soil_find(const char *name)
{
    if (!name)
        return NULL;
    if (!strcmp(name, "vgm") || !strcmp(name, "van_genuchten") || !strcmp(name, "vg"))
        return &tg_soil_vgm;
    if (!strcmp(name, "haverkamp"))
        return &tg_soil_haverkamp;
    return NULL;
}
