/* surr_netcdf.c — a surrogate training set as one NetCDF-4 file: dims sample x time x
 * feature, so `ncdump -h` tells what was sampled and tools (xarray) open it directly.
 * One sample per chunk: training reads whole samples. Written to "<path>.tmp<pid>" and
 * renamed, so a crash never leaves half a training set under the final name. */
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "surrogate/surrogate_internal.h"
#include "surrogate/surrogate_net.h"

#define NCTRY(call, what)                                                                      \
    do {                                                                                       \
        int st_ = (call);                                                                      \
        if (st_ != NC_NOERR) {                                                                 \
            rc = tg_error_set(TG_EIO, "%s: %s: %s", path, (what), nc_strerror(st_));           \
            goto done;                                                                         \
        }                                                                                      \
    } while (0)

static int put_text(int nc, int var, const char *name, const char *value)
{
    return nc_put_att_text(nc, var, name, strlen(value), value);
}

int tg_surr_data_write(const char *path, const tg_surr_data *d)
{
    if (!path || !d || d->N < 1)
        return tg_error_set(TG_EINVAL, "surrogate data write: empty set or NULL path");
    char tmp[4200];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return tg_error_set(TG_EINVAL, "%s: path too long", path);
    int rc = 0, nc = -1;
    int ds, dt, df, dp, dout, did, dname;
    int v_par, v_for, v_out, v_st, v_start, v_id, v_lo, v_hi, v_pn, v_fn;
    NCTRY(nc_create(tmp, NC_CLOBBER | NC_NETCDF4, &nc), "cannot create");
    NCTRY(nc_def_dim(nc, "sample", (size_t)d->N, &ds), "def_dim sample");
    NCTRY(nc_def_dim(nc, "time", (size_t)d->T, &dt), "def_dim time");
    NCTRY(nc_def_dim(nc, "forcing", (size_t)d->nf, &df), "def_dim forcing");
    NCTRY(nc_def_dim(nc, "param", (size_t)d->np, &dp), "def_dim param");
    NCTRY(nc_def_dim(nc, "output", (size_t)d->nout, &dout), "def_dim output");
    NCTRY(nc_def_dim(nc, "id_len", TG_ID_MAX, &did), "def_dim id_len");
    NCTRY(nc_def_dim(nc, "name_len", TG_NAME_MAX, &dname), "def_dim name_len");
    NCTRY(put_text(nc, NC_GLOBAL, "title", "terragrad surrogate training set"), "title");
    NCTRY(put_text(nc, NC_GLOBAL, "model", d->model), "model");
    NCTRY(put_text(nc, NC_GLOBAL, "design",
                   "Latin hypercube over [param_lower, param_upper]; each sample paired with a random "
                   "(basin, window) of observed forcing; outputs from the black-box model"),
          "design");
    unsigned long long seed = d->seed;
    NCTRY(nc_put_att_ulonglong(nc, NC_GLOBAL, "seed", NC_UINT64, 1, &seed), "seed");
    NCTRY(nc_put_att_int(nc, NC_GLOBAL, "n_failed", NC_INT, 1, &d->n_failed), "n_failed");
    NCTRY(nc_put_att_double(nc, NC_GLOBAL, "model_seconds", NC_DOUBLE, 1, &d->seconds), "model_seconds");

    int d_sp[2] = {ds, dp}, d_stf[3] = {ds, dt, df}, d_sto[3] = {ds, dt, dout}, d_sid[2] = {ds, did};
    int d_pn[2] = {dp, dname}, d_fn[2] = {df, dname};
    NCTRY(nc_def_var(nc, "params", NC_DOUBLE, 2, d_sp, &v_par), "def_var params");
    NCTRY(put_text(nc, v_par, "long_name", "model parameters (physical units)"), "params");
    NCTRY(nc_def_var(nc, "forcing", NC_DOUBLE, 3, d_stf, &v_for), "def_var forcing");
    NCTRY(put_text(nc, v_for, "long_name", "daily forcing of each window"), "forcing");
    NCTRY(nc_def_var(nc, "output", NC_DOUBLE, 3, d_sto, &v_out), "def_var output");
    NCTRY(put_text(nc, v_out, "long_name", "black-box model outputs (NaN for failed samples)"), "output");
    size_t ch_f[3] = {1, (size_t)d->T, (size_t)d->nf}, ch_o[3] = {1, (size_t)d->T, (size_t)d->nout};
    NCTRY(nc_def_var_chunking(nc, v_for, NC_CHUNKED, ch_f), "chunk forcing");
    NCTRY(nc_def_var_chunking(nc, v_out, NC_CHUNKED, ch_o), "chunk output");
    NCTRY(nc_def_var_deflate(nc, v_for, 1, 1, 1), "deflate forcing");
    NCTRY(nc_def_var_deflate(nc, v_out, 1, 1, 1), "deflate output");
    NCTRY(nc_def_var(nc, "status", NC_INT, 1, &ds, &v_st), "def_var status");
    NCTRY(put_text(nc, v_st, "long_name", "black-box run status (0 = ok)"), "status");
    NCTRY(put_text(nc, v_st, "flag_meanings", "ok return exit signal timeout malformed nonfinite system"), "status");
    NCTRY(nc_def_var(nc, "start", NC_INT, 1, &ds, &v_start), "def_var start");
    NCTRY(put_text(nc, v_start, "units", "days since 1970-01-01"), "start");
    NCTRY(put_text(nc, v_start, "long_name", "first day of the forcing window"), "start");
    NCTRY(nc_def_var(nc, "basin_id", NC_CHAR, 2, d_sid, &v_id), "def_var basin_id");
    NCTRY(nc_def_var(nc, "param_lower", NC_DOUBLE, 1, &dp, &v_lo), "def_var param_lower");
    NCTRY(nc_def_var(nc, "param_upper", NC_DOUBLE, 1, &dp, &v_hi), "def_var param_upper");
    NCTRY(nc_def_var(nc, "param_name", NC_CHAR, 2, d_pn, &v_pn), "def_var param_name");
    NCTRY(nc_def_var(nc, "forcing_name", NC_CHAR, 2, d_fn, &v_fn), "def_var forcing_name");
    NCTRY(nc_enddef(nc), "enddef");

    NCTRY(nc_put_var_double(nc, v_par, d->params), "write params");
    NCTRY(nc_put_var_double(nc, v_for, d->forcing), "write forcing");
    NCTRY(nc_put_var_double(nc, v_out, d->out), "write output");
    NCTRY(nc_put_var_int(nc, v_st, d->status), "write status");
    NCTRY(nc_put_var_int(nc, v_start, d->start), "write start");
    NCTRY(nc_put_var_text(nc, v_id, &d->basin[0][0]), "write basin_id");
    NCTRY(nc_put_var_double(nc, v_lo, d->lo), "write param_lower");
    NCTRY(nc_put_var_double(nc, v_hi, d->hi), "write param_upper");
    NCTRY(nc_put_var_text(nc, v_pn, &d->param_name[0][0]), "write param_name");
    NCTRY(nc_put_var_text(nc, v_fn, &d->forcing_name[0][0]), "write forcing_name");
done:
    if (nc >= 0) {
        int st = nc_close(nc);
        if (!rc && st != NC_NOERR)
            rc = tg_error_set(TG_EIO, "%s: close: %s", path, nc_strerror(st));
    }
    if (!rc && rename(tmp, path) != 0)
        rc = tg_error_set(TG_EIO, "%s: cannot rename %s into place", path, tmp);
    if (rc)
        remove(tmp);
    return rc;
}

static int dim_len(int nc, const char *name, size_t *len)
{
    int id;
    if (nc_inq_dimid(nc, name, &id) != NC_NOERR)
        return 1;
    return nc_inq_dimlen(nc, id, len) != NC_NOERR;
}

int tg_surr_data_read(const char *path, tg_surr_data *d)
{
    if (!path || !d)
        return tg_error_set(TG_EINVAL, "surrogate data read: NULL argument");
    memset(d, 0, sizeof *d);
    int rc = 0, nc = -1, v;
    size_t N, T, nf, np, nout, idl, nml;
    NCTRY(nc_open(path, NC_NOWRITE, &nc), "cannot open");
    const char *dims[] = {"sample", "time", "forcing", "param", "output", "id_len", "name_len"};
    size_t *lens[] = {&N, &T, &nf, &np, &nout, &idl, &nml};
    for (int k = 0; k < 7; k++)
        if (dim_len(nc, dims[k], lens[k])) {
            rc = tg_error_set(TG_EINVAL, "%s: not a surrogate training set: no dimension '%s'", path, dims[k]);
            goto done;
        }
    if (idl != TG_ID_MAX || nml != TG_NAME_MAX || N < 1 || T < 1 || nf < 1 || np < 1 || nout < 1 || N > (1u << 30)) {
        rc = tg_error_set(TG_EINVAL, "%s: unexpected sizes (id_len %zu, name_len %zu, sample %zu, time %zu)", path,
                          idl, nml, N, T);
        goto done;
    }
    if ((rc = tg__surr_data_alloc(d, (int)N, (int)T, (int)nf, (int)np, (int)nout)))
        goto done;
#define GETVAR(name, call)                                                                     \
    do {                                                                                       \
        NCTRY(nc_inq_varid(nc, name, &v), "no variable '" name "'");                           \
        NCTRY(call, "reading '" name "'");                                                     \
    } while (0)
    GETVAR("params", nc_get_var_double(nc, v, d->params));
    GETVAR("forcing", nc_get_var_double(nc, v, d->forcing));
    GETVAR("output", nc_get_var_double(nc, v, d->out));
    GETVAR("status", nc_get_var_int(nc, v, d->status));
    GETVAR("start", nc_get_var_int(nc, v, d->start));
    GETVAR("basin_id", nc_get_var_text(nc, v, &d->basin[0][0]));
    GETVAR("param_lower", nc_get_var_double(nc, v, d->lo));
    GETVAR("param_upper", nc_get_var_double(nc, v, d->hi));
    GETVAR("param_name", nc_get_var_text(nc, v, &d->param_name[0][0]));
    GETVAR("forcing_name", nc_get_var_text(nc, v, &d->forcing_name[0][0]));
#undef GETVAR
    /* Names are NUL-padded but a foreign writer may fill the whole width. */
    for (size_t i = 0; i < N; i++)
        d->basin[i][TG_ID_MAX - 1] = '\0';
    for (size_t k = 0; k < np; k++)
        d->param_name[k][TG_NAME_MAX - 1] = '\0';
    for (size_t k = 0; k < nf; k++)
        d->forcing_name[k][TG_NAME_MAX - 1] = '\0';
    size_t len;
    nc_type type;
    if (nc_inq_att(nc, NC_GLOBAL, "model", &type, &len) == NC_NOERR && type == NC_CHAR && len < sizeof d->model) {
        NCTRY(nc_get_att_text(nc, NC_GLOBAL, "model", d->model), "model");
        d->model[len] = '\0';
    }
    unsigned long long seed = 0;
    if (nc_get_att_ulonglong(nc, NC_GLOBAL, "seed", &seed) == NC_NOERR)
        d->seed = seed;
    nc_get_att_double(nc, NC_GLOBAL, "model_seconds", &d->seconds);
    d->n_failed = 0;
    for (size_t i = 0; i < N; i++)
        d->n_failed += d->status[i] != 0;
done:
    if (nc >= 0)
        nc_close(nc);
    if (rc)
        tg_surr_data_free(d);
    return rc;
}
