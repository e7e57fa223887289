/* commands.h — the terragrad subcommands. Each lives in cli/cmd_<name>.c and defines
 * `int tg_cmd_<name>(int argc, char **argv)` (argv[0] is the subcommand name), returning
 * the process exit status. Every command is built (no weak declarations). */
#ifndef TG_CLI_COMMANDS_H
#define TG_CLI_COMMANDS_H

#define TG_COMMANDS(X)                                                                   \
    X(demo, "run the built-in demo (the default with no subcommand)")                     \
    X(gradcheck, "check every op's gradient against finite differences")                  \
    X(train, "train a model from a YAML config")                                          \
    X(test, "evaluate a trained run (its test period, or other basins and dates)")        \
    X(predict, "a trained run's streamflow and fluxes where nothing is observed")         \
    X(cv, "spatial k-fold cross-validation: each basin scored by a model that never saw it") \
    X(simulate, "run a model (trained or with given parameters) on any basins")           \
    X(sensitivity, "local parameter sensitivities of a process model")                    \
    X(calibrate, "per-basin calibration (SCE-UA, gradient-based)")                        \
    X(metrics, "score simulated against observed streamflow")                             \
    X(plot, "draw figures for a run directory")                                           \
    X(richards, "run a 1-D Richards-equation soil column")                                \
    X(pinn, "train a physics-informed neural network")                                    \
    X(surrogate, "fit or evaluate a surrogate of a black-box model")                      \
    X(explain, "plot learned process functions")

#define TG_DECLARE_CMD(name, help) int tg_cmd_##name(int argc, char **argv);
TG_COMMANDS(TG_DECLARE_CMD)
#undef TG_DECLARE_CMD

#endif
