/* surrogate_io.c — a surrogate on disk: the weights as a terragrad checkpoint (checksummed,
 * written atomically by tg_checkpoint_save) at PATH, and everything needed to rebuild and
 * use it — architecture, parameter ranges, forcing normalisation, output scale — as
 * readable text at PATH.meta. Loading rebuilds the network, loads the weights (names and
 * shapes must match) and freezes it: a loaded surrogate is a fixed function. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "surrogate/surrogate_net.h"

#define META_MAGIC "tg_surrogate 1"

static int meta_path(const char *path, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s.meta", path);
    if (n < 0 || (size_t)n >= size)
        return tg_error_set(TG_EINVAL, "%s: path too long", path);
    return 0;
}

int tg_surrogate_save(const tg_surrogate *s, const char *path)
{
    if (!s || !path)
        return tg_error_set(TG_EINVAL, "surrogate save: NULL argument");
    char meta[4200], tmp[4300];
    int rc = meta_path(path, meta, sizeof meta);
    if (rc)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", meta, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return tg_error_set(TG_EIO, "%s: cannot create (%s)", tmp, strerror(errno));
    fprintf(f, "%s\n", META_MAGIC);
    fprintf(f, "model %s\n", s->model[0] ? s->model : "-");
    fprintf(f, "np %d\nnf %d\nwindow %d\nhidden %d\ntarget %d\nno_params %d\nexp_output %d\n", s->np, s->nf, s->T,
            s->H, s->target, s->no_params, s->exp_output);
    fprintf(f, "precision %s\n", TG_REAL_NAME);
    fprintf(f, "y_scale %.17g\n", s->y_scale);
    for (int k = 0; k < s->np; k++)
        fprintf(f, "param %s %.17g %.17g\n", s->pname[k], s->lo[k], s->hi[k]);
    for (int k = 0; k < s->nf; k++)
        fprintf(f, "forcing %s %.17g %.17g\n", s->fname[k], s->f_mean[k], s->f_std[k]);
    int bad = ferror(f);
    if (fclose(f) || bad) {
        remove(tmp);
        return tg_error_set(TG_EIO, "%s: write error", tmp);
    }
    if ((rc = tg_checkpoint_save(path, s->ps, NULL, NULL, 0))) {
        remove(tmp);
        return rc;
    }
    if (rename(tmp, meta) != 0) {
        remove(tmp);
        return tg_error_set(TG_EIO, "%s: cannot rename %s into place", meta, tmp);
    }
    return 0;
}

/* Reads "key value" line `key` into fmt; errors name the file and line. */
static int meta_line(FILE *f, const char *meta, int *line, char *buf, size_t size)
{
    if (!fgets(buf, (int)size, f))
        return tg_error_set(TG_EINVAL, "%s: line %d: unexpected end of file", meta, *line + 1);
    (*line)++;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

tg_surrogate *tg_surrogate_load(const char *path)
{
    char meta[4200], buf[512];
    if (!path || meta_path(path, meta, sizeof meta))
        return NULL;
    FILE *f = fopen(meta, "r");
    if (!f) {
        tg_error_set(TG_EIO, "%s: cannot open (%s); a surrogate is PATH (weights) + PATH.meta", meta, strerror(errno));
        return NULL;
    }
    tg_surrogate *s = NULL;
    int line = 0, np = 0, nf = 0, T = 0, H = 0, target = 0, nop = 0;
    char model[128] = "", prec[16] = "";
    double y_scale = 0;
    const char *keys[] = {"model",     "np",         "nf",        "window", "hidden",
                          "target",    "no_params",  "exp_output", "precision", "y_scale"};
    int expo = 0;
    if (meta_line(f, meta, &line, buf, sizeof buf))
        goto fail;
    if (strcmp(buf, META_MAGIC)) {
        tg_error_set(TG_EINVAL, "%s: line 1: expected '%s'", meta, META_MAGIC);
        goto fail;
    }
    for (int k = 0; k < 10; k++) {
        if (meta_line(f, meta, &line, buf, sizeof buf))
            goto fail;
        size_t kl = strlen(keys[k]);
        int ok = !strncmp(buf, keys[k], kl) && buf[kl] == ' ';
        const char *v = buf + kl + 1;
        if (ok) {
            switch (k) {
            case 0: ok = snprintf(model, sizeof model, "%s", v) > 0; break;
            case 1: ok = sscanf(v, "%d", &np) == 1; break;
            case 2: ok = sscanf(v, "%d", &nf) == 1; break;
            case 3: ok = sscanf(v, "%d", &T) == 1; break;
            case 4: ok = sscanf(v, "%d", &H) == 1; break;
            case 5: ok = sscanf(v, "%d", &target) == 1; break;
            case 6: ok = sscanf(v, "%d", &nop) == 1; break;
            case 7: ok = sscanf(v, "%d", &expo) == 1; break;
            case 8: ok = sscanf(v, "%15s", prec) == 1; break;
            default: ok = sscanf(v, "%lf", &y_scale) == 1 && y_scale > 0; break;
            }
        }
        if (!ok) {
            tg_error_set(TG_EINVAL, "%s: line %d: expected '%s <value>', got '%s'", meta, line, keys[k], buf);
            goto fail;
        }
    }
    if (!(s = tg__surrogate_alloc(np, nf, H))) {
        tg_error_prefix(TG_EINVAL, "%s: ", meta);
        goto fail;
    }
    s->T = T;
    s->target = target;
    s->no_params = nop != 0;
    s->exp_output = expo != 0;
    s->y_scale = y_scale;
    snprintf(s->model, sizeof s->model, "%s", strcmp(model, "-") ? model : "");
    for (int k = 0; k < np + nf; k++) {
        char name[TG_NAME_MAX];
        double a, b;
        const char *want = k < np ? "param" : "forcing";
        if (meta_line(f, meta, &line, buf, sizeof buf))
            goto fail;
        size_t wl = strlen(want);
        if (strncmp(buf, want, wl) || buf[wl] != ' ' || sscanf(buf + wl, "%63s %lf %lf", name, &a, &b) != 3) {
            tg_error_set(TG_EINVAL, "%s: line %d: expected '%s NAME A B', got '%s'", meta, line, want, buf);
            goto fail;
        }
        if (k < np) {
            snprintf(s->pname[k], TG_NAME_MAX, "%s", name);
            s->lo[k] = a;
            s->hi[k] = b;
        } else {
            snprintf(s->fname[k - np], TG_NAME_MAX, "%s", name);
            s->f_mean[k - np] = a;
            s->f_std[k - np] = b > 0 ? b : 1.0;
        }
    }
    fclose(f);
    f = NULL;
    /* The checkpoint itself checks precision, names and shapes against the rebuilt net. */
    if (tg_checkpoint_load(path, s->ps, NULL, NULL, NULL))
        goto fail;
    tg_surrogate_freeze(s, 1);
    return s;
fail:
    if (f)
        fclose(f);
    tg_surrogate_free(&s);
    return NULL;
}
