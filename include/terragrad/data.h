/* terragrad/data.h — catchment data: daily basin time series, static attributes, readers
 * and writers (CAMELS-US original layout, Caravan CSV, generic CSV, CF NetCDF), dates,
 * PET, periods, normalisation and minibatch sampling. Included by <terragrad.h>.
 *
 * ============================================================== overview
 * A tg_basin holds one basin's daily series on a contiguous day axis: day number `start`
 * (days since 1970-01-01, proleptic Gregorian) and `T` days. Each variable is one array
 * of T values (P, T, PET, Q, and for CAMELS the raw forcing columns); a NULL array means
 * the source has no such variable, NaN marks a missing day. Units are fixed (mm/day,
 * degC; see tg_var_units), so every reader converts at load time.
 *
 *     tg_basin b;
 *     if (tg_caravan_read("data/caravan_camels_us", "01022500", &b)) {
 *         fprintf(stderr, "%s\n", tg_error_message());   // file, line and field
 *         return 1;
 *     }
 *     tg_real q0 = b.var[TG_VAR_Q][0];                     // mm/day on day b.start
 *     tg_basin_free(&b);
 *
 * Every reader returns 0 or a status (TG_EIO: missing/unreadable file; TG_EINVAL: bad
 * content, with "FILE: line N, field 'NAME': ..." in tg_error_message()). Nothing exits.
 * Writers write a temporary file next to the target and rename it, so a reader never
 * sees half a file. Functions are thread-safe on distinct objects (read basins in an
 * OpenMP loop; the error message is per thread).
 * Formats, units and missing codes are documented in docs/data.md. */
#ifndef TERRAGRAD_DATA_H
#define TERRAGRAD_DATA_H

#include <stdio.h>

#include "terragrad/core.h"
#include "terragrad/models.h"   /* tg_domain */

#ifdef __cplusplus
extern "C" {
#endif

#define TG_ID_MAX 32     /* basin ids incl. the terminating NUL (CAMELS: 8 digits) */
#define TG_NAME_MAX 64   /* attribute / feature names incl. NUL */

/* ===================================================================== dates */
/* Day numbers: days since 1970-01-01 in the proleptic Gregorian calendar (negative
 * before 1970). Valid for years 1..9999. */
TG_API int tg_date_from_ymd(int year, int month, int day);
TG_API void tg_date_to_ymd(int daynum, int *year, int *month, int *day);
TG_API int tg_date_doy(int daynum);                 /* day of year, 1..366 */
TG_API int tg_date_is_valid(int year, int month, int day);
/* Parses exactly "YYYY-MM-DD" (no trailing text); 0 ok, TG_EINVAL otherwise. */
TG_API int tg_date_parse(const char *s, int *daynum);
/* Writes "YYYY-MM-DD" + NUL into buf (at least 11 bytes); returns buf. */
TG_API char *tg_date_format(int daynum, char *buf);

/* ===================================================================== variables */
enum {
    TG_VAR_P = 0,   /* precipitation, mm/day */
    TG_VAR_TEMP,    /* mean air temperature, degC (CAMELS: (tmax + tmin) / 2) */
    TG_VAR_PET,     /* potential evapotranspiration, mm/day */
    TG_VAR_Q,       /* observed streamflow, mm/day */
    TG_VAR_TMAX,    /* daily maximum temperature, degC */
    TG_VAR_TMIN,    /* daily minimum temperature, degC */
    TG_VAR_SRAD,    /* shortwave radiation, W/m2 */
    TG_VAR_VP,      /* vapour pressure, Pa */
    TG_VAR_DAYL,    /* day length, s */
    TG_VAR_SWE,     /* snow water equivalent, mm */
    TG_NVAR
};
TG_API const char *tg_var_name(int v);      /* "P", "T", "PET", "Q", "tmax", ... */
TG_API const char *tg_var_units(int v);     /* "mm/day", "degC", ... */
TG_API const char *tg_var_long_name(int v);
/* Valid domain of variable v (TG_VAR_*: P >= 0, ...; every value finite; src/data/var_domain.c). */
TG_API const tg_domain *tg_var_domain(int v);
/* The HBV parameter domains and the forcing domains as Markdown (docs/hbv_domain.md is
 * generated from this; `terragrad simulate --domains`). */
TG_API void tg_hbv_domain_table(FILE *f);
TG_API int tg_var_find(const char *name);   /* case-insensitive; -1 if unknown */
#define TG_VAR_BIT(v) (1u << (v))

/* ===================================================================== PET methods */
enum {
    TG_PET_AUTO = 0,     /* (option) Hargreaves, or Oudin when tmax == tmin (NLDAS, Maurer) */
    TG_PET_FILE,         /* taken from the data file */
    TG_PET_HARGREAVES,   /* Hargreaves & Samani (1985), FAO-56 eq. 52 */
    TG_PET_OUDIN,        /* Oudin et al. (2005): needs only the mean temperature */
    TG_PET_NONE          /* no PET */
};
TG_API const char *tg_pet_method_name(int method);
/* Extraterrestrial radiation Ra, MJ m-2 day-1 (FAO-56 eqs. 21-25); lat in degrees. */
TG_API double tg_extraterrestrial_radiation(double lat_deg, int doy);
/* Hargreaves: 0.0023 * 0.408 Ra * (Tmean + 17.8) * sqrt(Tmax - Tmin), mm/day, >= 0. */
TG_API double tg_pet_hargreaves(double tmax, double tmin, double ra);
/* Oudin: Ra / (lambda rho) * (T + 5) / 100 for T > -5, else 0; mm/day. */
TG_API double tg_pet_oudin(double tmean, double ra);

/* ===================================================================== basin series */
typedef struct tg_basin {
    char id[TG_ID_MAX];        /* kept as text: leading zeros matter */
    int start;                 /* day number of index 0 */
    int T;                     /* number of days */
    tg_real *var[TG_NVAR];     /* (T) each; NULL = variable absent; NaN = missing day */
    double lat, lon;           /* degrees (gauge); NaN when unknown */
    double area_km2;           /* NaN when unknown */
    double elev_m;             /* mean basin elevation, m; NaN when unknown */
    int pet_method;            /* TG_PET_FILE/HARGREAVES/OUDIN/NONE: origin of var[TG_VAR_PET] */
    char note[512];            /* one line for the run log: what the reader did */
} tg_basin;

/* Empty basin (no variables, metadata NaN, pet_method NONE). T may be 0. */
TG_API int tg_basin_init(tg_basin *b, const char *id, int start, int T);
/* Allocates var[v] filled with NaN if absent; returns the array or NULL on error. */
TG_API tg_real *tg_basin_add_var(tg_basin *b, int v);
TG_API void tg_basin_free(tg_basin *b);             /* frees arrays, leaves an empty basin */
/* For arrays of basins allocated by the library (tg_netcdf_read): frees and NULLs. */
TG_API void tg_basin_array_free(tg_basin **basins, int B);
/* Copy of days first..last (inclusive day numbers); days outside `in` become NaN, so
 * slices of different basins share one time axis. */
TG_API int tg_basin_slice(const tg_basin *in, int first, int last, tg_basin *out);
/* Number of non-missing values of var v (0 if absent). */
TG_API int tg_basin_count_valid(const tg_basin *b, int v);
/* TG_EINVAL naming `what` and the first variable in mask (TG_VAR_BIT) that is absent. */
TG_API int tg_basin_require(const tg_basin *b, unsigned mask, const char *what);
/* Fills PET (method HARGREAVES needs tmax/tmin, OUDIN needs T, AUTO picks) using lat;
 * records the method in pet_method and appends to note. */
TG_API int tg_basin_compute_pet(tg_basin *b, int method);
/* Fraction of days with |tmax - tmin| < 0.005 degC (NaN if tmax/tmin absent). */
TG_API double tg_basin_equal_tminmax_fraction(const tg_basin *b);

/* ===================================================================== CAMELS-US */
/* root: folder holding basin_mean_forcing/ and usgs_streamflow/ (HUC subfolders are
 * searched, so any <huc> works). Forcing columns are kept (P, tmax, tmin, srad, vp, dayl,
 * swe), T = (tmax + tmin) / 2, PET computed (see pet_method), latitude / elevation / area
 * from the forcing header. Streamflow cfs -> mm/day with the header area:
 * q = cfs * 0.028316846592 * 86400 * 1000 / area_m2; -999 / flag M -> NaN. Streamflow is
 * joined ON DATE onto the forcing's day axis (days the forcing lacks are dropped). */
typedef struct tg_camels_options {
    const char *product;        /* forcing folder: "daymet" (default), "nldas", "maurer",
                                   "maurer_extended" */
    int pet_method;             /* TG_PET_AUTO (default), HARGREAVES, OUDIN or NONE */
    double area_km2;            /* > 0: use this area for the conversion (e.g. area_gages2) */
    int allow_missing_streamflow; /* 1: no streamflow file -> Q all NaN instead of TG_EIO */
} tg_camels_options;
TG_API int tg_camels_read(const char *root, const char *gauge_id, const tg_camels_options *opt,
                          tg_basin *out);
/* The two halves, on explicit paths. read_forcing gives P, T, tmax, tmin, ... (no PET). */
TG_API int tg_camels_read_forcing(const char *path, const char *gauge_id, tg_basin *out);
/* Joins the streamflow file onto b's days as var[TG_VAR_Q] (mm/day with area_m2). */
TG_API int tg_camels_join_streamflow(const char *path, double area_m2, tg_basin *b);

/* ===================================================================== Caravan CSV */
/* <root>/timeseries/<id>.csv (or <root>/<id>.csv): no header, columns P,T,PET,Q,
 * row i = start + i, "NA" = missing. */
#define TG_CARAVAN_START 4018   /* 1981-01-01 */
TG_API int tg_caravan_read(const char *root, const char *id, tg_basin *out);
TG_API int tg_caravan_read_file(const char *path, const char *id, int start, tg_basin *out);

/* ===================================================================== generic CSV */
/* <dir>/<id>.csv: header line, a `date` column (YYYY-MM-DD, strictly increasing; gaps are
 * missing days) and any of the columns named by tg_var_name (P, T, PET, Q, tmax, ...;
 * case-insensitive); other columns are ignored and reported in note. Empty, NA, nan =
 * missing. Callers check required columns with tg_basin_require. */
TG_API int tg_csv_read(const char *dir, const char *id, tg_basin *out);
TG_API int tg_csv_read_file(const char *path, const char *id, tg_basin *out);
/* As tg_csv_read_file, with columns chosen by name: colmap[v] (TG_NVAR entries) is the header
 * name read as variable v, NULL to leave v out; every other column is ignored. A named column
 * missing from the header is an error naming file, line 1 and the column. */
TG_API int tg_csv_read_mapped(const char *path, const char *id, const char *const *colmap, tg_basin *out);

/* Caravan as published (Kratzert et al. 2023): <root>/timeseries/csv/<source>/<id>.csv, ids
 * "<source>_<gauge>" (the source is the part before the first '_'), a `date` column and
 * ERA5-Land columns chosen by name. colmap NULL: tg_caravan_default_columns, i.e.
 * P = total_precipitation_sum, T = temperature_2m_mean, PET = potential_evaporation_sum,
 * Q = streamflow, tmax/tmin = temperature_2m_max/_min. */
TG_API const char *const *tg_caravan_default_columns(void);
TG_API int tg_caravan_official_read(const char *root, const char *id, const char *const *colmap,
                                    tg_basin *out);
/* 1 if root holds the published layout (a timeseries/csv or timeseries/netcdf folder). */
TG_API int tg_caravan_is_official(const char *root);
/* The same from either published format: TG_CARAVAN_CSV (as above) or TG_CARAVAN_NETCDF,
 * <root>/timeseries/netcdf/<source>/<id>.nc with a `date` dimension and coordinate and one
 * variable per CSV column of the same name (colmap names variables). A variable colmap
 * names that the file lacks, or one not over `date`, is TG_EINVAL naming file and
 * variable. tg_caravan_official_read(root, id, ...) is the CSV form. */
enum { TG_CARAVAN_CSV = 0, TG_CARAVAN_NETCDF = 1 };
TG_API int tg_caravan_official_read_as(const char *root, int format, const char *id, const char *const *colmap,
                                       tg_basin *out);
/* One Caravan NetCDF file (the reader behind TG_CARAVAN_NETCDF). */
TG_API int tg_caravan_netcdf_read_file(const char *path, const char *id, const char *const *colmap,
                                       tg_basin *out);
/* Writes date + every present variable (NaN as NA), shortest round-trip decimals. */
TG_API int tg_csv_write(const char *dir, const tg_basin *b);
TG_API int tg_csv_write_file(const char *path, const tg_basin *b);

/* ===================================================================== NetCDF (CF) */
/* One file, dims (basin, time): time in "days since 1970-01-01" (proleptic_gregorian),
 * basin_id char(basin, id_len) with cf_role timeseries_id, lat/lon/area/elevation per
 * basin, each variable (basin, time) with units, long_name and _FillValue (-9999).
 * The time axis spans all basins; days a basin lacks are written as fill. */
TG_API int tg_netcdf_write(const char *path, const tg_basin *basins, int B);
/* Reads every basin (both (basin, time) and (time, basin) variable layouts, float or
 * double; _FillValue / missing_value / NaN -> NaN). *basins is library-allocated: free
 * with tg_basin_array_free(basins, B). */
TG_API int tg_netcdf_read(const char *path, tg_basin **basins, int *B);

/* ===================================================================== attributes */
enum { TG_CAT_ONEHOT = 0, TG_CAT_CODE, TG_CAT_DROP };
typedef struct tg_attributes {
    int B, F;                        /* basins, attribute columns */
    char (*basin)[TG_ID_MAX];        /* (B) */
    char (*name)[TG_NAME_MAX];       /* (F) */
    tg_real *value;                  /* (B, F) row-major; NaN = missing */
} tg_attributes;
typedef struct tg_attr_options {
    const char *const *columns;      /* keep only these, in this order (NULL = all); a
                                        categorical column's name selects all its one-hot
                                        columns */
    int n_columns;
    int include_hydro;               /* 0 (default): skip camels_hydro.txt (signatures of
                                        observed flow: not model inputs) */
    int categorical;                 /* TG_CAT_ONEHOT (default), TG_CAT_CODE, TG_CAT_DROP */
} tg_attr_options;
#define TG_ATTR_MAX_LEVELS 32  /* text columns with more distinct values are dropped (names) */
/* dir: camels_attributes_v2.0 (or its parent). Reads camels_{clim,geol,hydro,name,soil,
 * topo,vege}.txt (';'-separated), joined on gauge_id. One-hot columns are named
 * "<col>=<value>" (spaces -> '_'); codes are the 0-based rank of the value in sorted
 * order. */
TG_API int tg_camels_attributes_read(const char *dir, const tg_attr_options *opt,
                                     tg_attributes *out);
/* Generic attributes.csv: header "basin_id,<name>,...", numeric values (empty/NA/nan
 * missing). */
TG_API int tg_attributes_read_csv(const char *path, tg_attributes *out);
TG_API int tg_attributes_basin(const tg_attributes *a, const char *id);    /* row or -1 */
TG_API int tg_attributes_column(const tg_attributes *a, const char *name); /* col or -1 */
/* Rows for ids[0..n) in that order into out (n, F); TG_EINVAL names a missing id. */
TG_API int tg_attributes_gather(const tg_attributes *a, const char (*ids)[TG_ID_MAX], int n,
                                tg_real *out);
TG_API void tg_attributes_free(tg_attributes *a);
/* Caravan's attribute files (attributes/<source>/attributes_{caravan,hydroatlas,other}_<source>.csv)
 * joined on gauge_id, for the sources of ids (the part before the first '_'); dir is the
 * Caravan root or its attributes folder. Numeric columns only (gauge name, country dropped);
 * a column name shared by two sources is one attribute, twice within a source an error. */
TG_API int tg_caravan_attributes_read(const char *dir, const char (*ids)[TG_ID_MAX], int n, tg_attributes *out);
/* 1 if dir (root or attributes folder) holds the attribute files of first_id's source. */
TG_API int tg_caravan_attributes_found(const char *dir, const char *first_id);

/* ===================================================================== basin lists */
typedef struct tg_basin_list {
    int n;
    char (*id)[TG_ID_MAX];
} tg_basin_list;
/* One id per line; blank lines and '#' comments skipped, whitespace trimmed, duplicates
 * are an error. */
TG_API int tg_basin_list_read(const char *path, tg_basin_list *out);
TG_API int tg_basin_list_write(const char *path, const tg_basin_list *l);
TG_API void tg_basin_list_free(tg_basin_list *l);
/* The ids of every <root>/timeseries/csv/<source>/<id>.csv (Caravan as published), sorted;
 * free with tg_basin_list_free. */
TG_API int tg_caravan_official_ids(const char *root, tg_basin_list *ids);
/* The same for either format (TG_CARAVAN_CSV: .csv files, TG_CARAVAN_NETCDF: timeseries/netcdf/.nc). */
TG_API int tg_caravan_official_ids_as(const char *root, int format, tg_basin_list *ids);

/* ===================================================================== normalisation */
/* Per-feature z-score, optionally of log(x + eps) (precipitation, flow). NaN stays NaN.
 * Fit: add features, update with data (NaN skipped), finish. Features are found by name,
 * so the saved file is reused at test time for the same inputs. */
typedef struct tg_norm_feature {
    char name[TG_NAME_MAX];
    int log;                   /* 1: transform x -> log(x + eps) first */
    double eps;
    double mean, std;          /* of the (transformed) values; std 0 -> stored as 1 */
    double n, m2;              /* Welford accumulators while fitting */
} tg_norm_feature;
typedef struct tg_norm {      /* zero-initialise: tg_norm nm = {0}; */
    int F, capacity;
    tg_norm_feature *f;        /* (F) */
} tg_norm;
TG_API int tg_norm_add(tg_norm *nm, const char *name, int log_transform, double eps); /* index or <0 */
TG_API int tg_norm_find(const tg_norm *nm, const char *name);                        /* -1 if absent */
TG_API void tg_norm_update(tg_norm *nm, int k, const tg_real *x, size_t n, size_t stride);
TG_API int tg_norm_finish(tg_norm *nm);      /* TG_EINVAL if a feature saw no valid value */
TG_API void tg_norm_apply(const tg_norm *nm, int k, tg_real *x, size_t n, size_t stride);
TG_API void tg_norm_invert(const tg_norm *nm, int k, tg_real *x, size_t n, size_t stride);
/* Fits feature `name` (added if needed) on var v of every basin over days first..last. */
TG_API int tg_norm_fit_basins(tg_norm *nm, const char *name, int log_transform, double eps,
                              const tg_basin *basins, int B, int v, int first, int last);
/* Normalises var v of every basin in place with feature `name`. */
TG_API int tg_norm_apply_basins(const tg_norm *nm, const char *name, tg_basin *basins, int B,
                                int v);
TG_API int tg_norm_save(const tg_norm *nm, const char *path);
TG_API int tg_norm_load(tg_norm *nm, const char *path);  /* nm: empty; overwritten */
TG_API void tg_norm_free(tg_norm *nm);

/* ===================================================================== sampling */
/* Minibatches of (basin, time window): a window is warmup + horizon consecutive days
 * inside days first..last; it is kept only if none of the input variables is missing in
 * it and its last `horizon` days hold at least one observed target. Each epoch visits
 * every kept window once in a seeded random order. */
typedef struct tg_sampler {
    int warmup, horizon;
    long n_windows;             /* kept windows */
    int *basin;                 /* (n_windows) basin index */
    int *offset;                /* (n_windows) start index into that basin's arrays */
    long pos;                   /* next window of the current epoch */
    int epoch;
    tg_rng rng;
} tg_sampler;
TG_API int tg_sampler_init(tg_sampler *s, const tg_basin *basins, int B, const int *input_vars,
                           int F, int target_var, int first, int last, int warmup, int horizon,
                           uint64_t seed);
/* Writes up to nb (basin, offset) pairs; returns how many (< nb only at the end of an
 * epoch; the next call starts a new, reshuffled epoch). */
TG_API int tg_sampler_next(tg_sampler *s, int nb, int *basin_idx, int *offset);
/* Brings a freshly initialised sampler (same windows, same seed) to sampler epoch `epoch`,
 * position `pos` by replaying its shuffles; rng (or NULL): the generator state saved with
 * them, checked after the replay so a different window list cannot pass unnoticed. */
TG_API int tg_sampler_restore(tg_sampler *s, int epoch, long pos, const tg_rng *rng);
TG_API void tg_sampler_free(tg_sampler *s);
/* Gathers a time-major batch x (L, nb, F + S): for window k, x[t][k][f] = basins[bi[k]]
 * .var[vars[f]][off[k] + t], then the S static values statics[bi[k] * S + s]
 * (statics (B, S) or NULL with S = 0). Absent variables give NaN. */
TG_API void tg_batch_gather(const tg_basin *basins, const int *basin_idx, const int *offset,
                            int nb, int L, const int *vars, int F, const tg_real *statics,
                            int S, tg_real *x);

/* ===================================================================== atomic writes
 * Every output file is written to "<path>.tmp<pid>" next to it and renamed into place,
 * so a crash or a concurrent reader never sees half a file and an old result survives a
 * failed run. tg_io_begin opens the temporary file (tmp receives its name);
 * tg_io_commit closes it, checks for write errors and renames it; on error the
 * temporary file is removed and the target is untouched. */
TG_API int tg_io_tmpname(const char *path, char *tmp, size_t tmpsize);
TG_API int tg_io_begin(const char *path, char *tmp, size_t tmpsize, FILE **f);
TG_API int tg_io_commit(FILE *f, const char *tmp, const char *path);

/* ===================================================================== whole-file reads
 * The whole file as a NUL-terminated string in a tg_mem block (free with tg_mem_free);
 * *len (may be NULL) receives its length without the NUL. A file longer than max_bytes
 * is refused rather than truncated: NULL with TG_EINVAL naming the file and the limit
 * (TG_EIO for a file that cannot be opened or read, TG_ENOMEM). */
TG_API char *tg_file_read_all(const char *path, size_t max_bytes, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
