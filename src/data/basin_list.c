/* basin_list.c — basin lists: plain text, one id per line, as neuralhydrology uses. Ids
 * stay text (CAMELS ids have leading zeros that a numeric parse would drop). */
#include <string.h>

#include "data/data_internal.h"

void tg_basin_list_free(tg_basin_list *l)
{
    tg_free(l->id, (size_t)(l->n > 0 ? l->n : 1) * TG_ID_MAX);
    l->id = NULL;
    l->n = 0;
}

int tg_basin_list_read(const char *path, tg_basin_list *out)
{
    tg_text t;
    out->n = 0;
    out->id = NULL;
    int rc = tg_text_open(&t, path);
    if (rc) return rc;
    int cap = tg_text_count_rows(&t), n = 0;
    char (*id)[TG_ID_MAX] = tg_malloc((size_t)(cap > 0 ? cap : 1) * TG_ID_MAX);
    if (!id) rc = TG_ENOMEM;
    char *line, *f[2];
    while (!rc && (line = tg_text_next(&t))) {
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        int k = tg_split_ws(line, f, 2);
        if (k == 0) continue;
        if (k > 1) {
            rc = tg_error_set(TG_EINVAL, "%s: line %d, field 'basin_id': more than one id on the line ('%s')",
                              path, t.line, f[1]);
            break;
        }
        if (tg_id_copy(id[n], f[0], path)) {
            rc = tg_error_prefix(TG_EINVAL, "line %d, field 'basin_id': ", t.line);
            break;
        }
        for (int i = 0; i < n && !rc; i++)
            if (!strcmp(id[i], id[n]))
                rc = tg_error_set(TG_EINVAL, "%s: line %d, field 'basin_id': '%s' is listed twice", path,
                                  t.line, id[n]);
        n++;
    }
    tg_text_close(&t);
    if (!rc && n == 0) rc = tg_error_set(TG_EINVAL, "%s: line 1, field 'basin_id': no basin ids", path);
    if (rc) {
        tg_free(id, (size_t)(cap > 0 ? cap : 1) * TG_ID_MAX);
        return rc;
    }
    /* exact size, so tg_basin_list_free can name it */
    out->id = tg_realloc(id, (size_t)(cap > 0 ? cap : 1) * TG_ID_MAX, (size_t)n * TG_ID_MAX);
    if (!out->id) {
        tg_free(id, (size_t)(cap > 0 ? cap : 1) * TG_ID_MAX);
        return TG_ENOMEM;
    }
    out->n = n;
    return 0;
}

int tg_basin_list_write(const char *path, const tg_basin_list *l)
{
    char tmp[4200];
    FILE *f;
    int rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (rc) return rc;
    for (int i = 0; i < l->n; i++) fprintf(f, "%s\n", l->id[i]);
    return tg_io_commit(f, tmp, path);
}
