/* bmi.h — the CSDMS Basic Model Interface, version 2.0, in C.
 *
 * Written for terragrad from the published BMI 2.0 specification (bmi.readthedocs.io,
 * "BMI functions"): a model is a struct of function pointers plus an opaque `data`
 * pointer. A framework (NOAA NextGen, pymt, ...) fills the struct through the model's
 * registration function (here register_bmi_terragrad), then calls initialize(config),
 * update() / update_until(t) between get_value and set_value calls, and finalize().
 *
 * Conventions of the specification that this header states once:
 *   - every function returns BMI_SUCCESS or BMI_FAILURE;
 *   - strings are written into caller buffers of BMI_MAX_*_NAME bytes;
 *   - get_input_var_names / get_output_var_names fill an array of `count` caller buffers
 *     of BMI_MAX_VAR_NAME bytes each;
 *   - get_value copies all of a variable's values (get_var_nbytes bytes) into dest;
 *     get_value_ptr returns the model's own storage (writes through it are seen by the
 *     model); the *_at_indices forms address flat element indices;
 *   - a function that does not apply to a grid type returns BMI_FAILURE. */
#ifndef TG_BMI_H
#define TG_BMI_H

#ifdef __cplusplus
extern "C" {
#endif

#define BMI_SUCCESS 0
#define BMI_FAILURE 1

#define BMI_MAX_UNITS_NAME 2048
#define BMI_MAX_TYPE_NAME 2048
#define BMI_MAX_COMPONENT_NAME 2048
#define BMI_MAX_VAR_NAME 2048
#define BMI_MAX_LOCATION_NAME 2048

typedef struct Bmi {
    void *data; /* the model instance */

    /* model control */
    int (*initialize)(struct Bmi *self, const char *config_file);
    int (*update)(struct Bmi *self);
    int (*update_until)(struct Bmi *self, double then);
    int (*finalize)(struct Bmi *self);

    /* model information */
    int (*get_component_name)(struct Bmi *self, char *name);
    int (*get_input_item_count)(struct Bmi *self, int *count);
    int (*get_output_item_count)(struct Bmi *self, int *count);
    int (*get_input_var_names)(struct Bmi *self, char **names);
    int (*get_output_var_names)(struct Bmi *self, char **names);

    /* variable information */
    int (*get_var_grid)(struct Bmi *self, const char *name, int *grid);
    int (*get_var_type)(struct Bmi *self, const char *name, char *type);
    int (*get_var_units)(struct Bmi *self, const char *name, char *units);
    int (*get_var_itemsize)(struct Bmi *self, const char *name, int *size);
    int (*get_var_nbytes)(struct Bmi *self, const char *name, int *nbytes);
    int (*get_var_location)(struct Bmi *self, const char *name, char *location);

    /* time */
    int (*get_current_time)(struct Bmi *self, double *time);
    int (*get_start_time)(struct Bmi *self, double *time);
    int (*get_end_time)(struct Bmi *self, double *time);
    int (*get_time_units)(struct Bmi *self, char *units);
    int (*get_time_step)(struct Bmi *self, double *time_step);

    /* getters and setters */
    int (*get_value)(struct Bmi *self, const char *name, void *dest);
    int (*get_value_ptr)(struct Bmi *self, const char *name, void **dest_ptr);
    int (*get_value_at_indices)(struct Bmi *self, const char *name, void *dest, int *inds, int count);
    int (*set_value)(struct Bmi *self, const char *name, void *src);
    int (*set_value_at_indices)(struct Bmi *self, const char *name, int *inds, int count, void *src);

    /* grid information (all grid types) */
    int (*get_grid_rank)(struct Bmi *self, int grid, int *rank);
    int (*get_grid_size)(struct Bmi *self, int grid, int *size);
    int (*get_grid_type)(struct Bmi *self, int grid, char *type);

    /* uniform rectilinear grids */
    int (*get_grid_shape)(struct Bmi *self, int grid, int *shape);
    int (*get_grid_spacing)(struct Bmi *self, int grid, double *spacing);
    int (*get_grid_origin)(struct Bmi *self, int grid, double *origin);

    /* non-uniform rectilinear, curvilinear grids */
    int (*get_grid_x)(struct Bmi *self, int grid, double *x);
    int (*get_grid_y)(struct Bmi *self, int grid, double *y);
    int (*get_grid_z)(struct Bmi *self, int grid, double *z);

    /* unstructured grids */
    int (*get_grid_node_count)(struct Bmi *self, int grid, int *count);
    int (*get_grid_edge_count)(struct Bmi *self, int grid, int *count);
    int (*get_grid_face_count)(struct Bmi *self, int grid, int *count);
    int (*get_grid_edge_nodes)(struct Bmi *self, int grid, int *edge_nodes);
    int (*get_grid_face_edges)(struct Bmi *self, int grid, int *face_edges);
    int (*get_grid_face_nodes)(struct Bmi *self, int grid, int *face_nodes);
    int (*get_grid_nodes_per_face)(struct Bmi *self, int grid, int *nodes_per_face);
} Bmi;

#ifdef __cplusplus
}
#endif
#endif
