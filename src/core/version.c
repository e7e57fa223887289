/* version.c — what this library was built as, and the start-up check that a program
 * agrees with it (TG_CHECK_ABI in terragrad/core.h). */
#include "internal.h"

const char *tg_version(void) { return TG_VERSION_STRING; }
int tg_version_number(void) { return TG_VERSION_NUMBER; }
int tg_real_size(void) { return (int)sizeof(tg_real); }

static const char *real_name(size_t size)
{
    return size == sizeof(float) ? "float" : size == sizeof(double) ? "double" : "an unknown type";
}

int tg_check_abi(int version_number, size_t real_size)
{
    int major = version_number / 10000, minor = version_number / 100 % 100;
    if (major != TG_VERSION_MAJOR || minor != TG_VERSION_MINOR)
        return tg_error_set(TG_EVERSION,
                            "terragrad: the program was compiled against terragrad %d.%d.x headers but runs with "
                            "library %s; rebuild it against the installed version",
                            major, minor, TG_VERSION_STRING);
    if (real_size != sizeof(tg_real))
        return tg_error_set(TG_EVERSION,
                            "terragrad: the program was compiled for %s (tg_real of %zu bytes) but runs with the %s "
                            "build of the library (libterragrad%s); compile with%s -DTG_DOUBLE=1 or link the other "
                            "library",
                            real_name(real_size), real_size, TG_REAL_NAME, sizeof(tg_real) == 8 ? "-double" : "",
                            sizeof(tg_real) == 8 ? "" : "out");
    return 0;
}
