"""Break each promise of the harness on purpose and check that a test notices.

Every mutation is one promise from README.md or docs/, one exact snippet of the code that keeps
it, the snippet that breaks it, and the tests that guard it. The script copies the checkout
(tracked and untracked, not ignored, files) to a scratch folder, runs every guard once on the
unchanged copy (they must pass), then for each mutation: applies it, runs its guards there, and
restores the file. It prints one row per mutation: caught (a guard failed), NOT caught (all passed),
snippet not found (the code drifted: update the mutation), or error (the guards could not run).
The exit status is 0 only when every mutation is caught.

    python benchmarks/mutation_check.py                 # all mutations (a few minutes on 2 CPU cores)
    python benchmarks/mutation_check.py --only seed     # those whose promise mentions "seed"
    python benchmarks/mutation_check.py --only "later issue"
    python benchmarks/mutation_check.py --list          # the mutations and their guards

To check a new promise, add a ``Mutation`` to ``MUTATIONS`` and watch its guard catch it.

By default each mutation's tests run in a child forked from this process after it has imported the
heavy third-party libraries (torch, pandas, …) but nothing of mebench, so the child imports the
scratch copy's mebench fresh and pays no start-up cost; ``--fresh`` runs ``python -m pytest`` in a
new interpreter instead. Either way the scratch folder comes first on the import path, with a
``mebench_plugins`` link to its ``plugins`` folder, and a pre-flight check confirms that both
packages are imported from there.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

REPO = Path(__file__).resolve().parent.parent
INVARIANTS = "tests/test_invariants.py"
#: Imported once in this process before forking, so the children do not pay for them.
PRELOAD = ("numpy", "pandas", "torch", "torch.func", "torchvision", "timm", "sklearn.metrics",
           "sklearn.model_selection", "scipy.stats", "cv2", "openpyxl", "pluggy", "click", "click.testing",
           "tabulate", "tqdm.auto", "filelock", "pytest", "_pytest.pytester", "_hypothesis_pytestplugin",
           "pytest_benchmark.plugin", "anyio.pytest_plugin")


@dataclass(frozen=True)
class Mutation:
    promise: str
    file: str  # relative to the repository root
    old: str  # must occur exactly once in the file
    new: str
    guards: tuple[str, ...]  # pytest node ids
    source: str = "issue 13"  # "issue 13" (its guard was missing), "guarded before", "later issue", "issue 18"…


def guard(*names: str) -> tuple[str, ...]:
    return tuple(f"{INVARIANTS}::{name}" for name in names)


SEED_GUARDS = guard("test_fold_seeds_differ_across_folds_and_run_seeds",
                    "test_weights_and_batch_order_follow_the_run_seed_and_the_fold",
                    "test_the_seed_and_the_fold_change_the_probabilities")
RUN_ID_GUARDS = guard("test_each_protocol_setting_changes_the_run_id",
                      "test_protocol_options_and_preprocessing_change_the_run_id",
                      "test_execution_levers_do_not_change_the_run_id")
FOREIGN_FOLD_GUARDS = guard("test_a_fold_record_written_for_another_fold_is_discarded",
                            "test_a_foreign_fold_file_is_retrained_on_resume")
ATOMIC_GUARDS = guard("test_a_write_that_fails_before_the_rename_leaves_the_old_file_and_no_temp_file")
LEVERS = '("seed", "data_root", "device", "fold_batch", "compile")'
REENTRY_GUARDS = ("tests/test_preprocessing_cache.py::"
                  "test_mebench_called_again_inside_its_own_worker_says_to_add_a_main_guard",)
OPTION_GUARDS = guard("test_every_kind_of_option_is_checked_by_the_one_validator_before_anything_is_read",
                      "test_a_chain_step_option_is_checked_against_the_steps_declaration")

MUTATIONS = [
    # --- the promises issue 13 found unguarded -------------------------------------------------------
    Mutation("normalisation statistics from the fold's training samples only", "mebench/training.py",
             "    train_x = x[train]\n", "    train_x = x\n",
             guard("test_normalisation_statistics_come_from_the_training_samples_only")),
    Mutation("predictions stay attached to their sample through the runner", "mebench/execute.py",
             "Prediction(sample_id, probabilities[k].tolist())",
             "Prediction(sample_id, probabilities[(k + 1) % len(job.test_ids)].tolist())",
             guard("test_predictions_stay_attached_to_their_sample")),
    Mutation("weights and batch order seeded from (seed, fold): every fold the same seed", "mebench/training.py",
             "return self.seed * 100_003 + fold_index", "return self.seed * 100_003", SEED_GUARDS),
    Mutation("weights and batch order seeded from (seed, fold): run seed ignored", "mebench/training.py",
             "return self.seed * 100_003 + fold_index", "return fold_index", SEED_GUARDS),
    Mutation("weights and batch order seeded from (seed, fold): fold start ignores the fold", "mebench/training.py",
             "seed = settings.fold_seed(fold.index)", "seed = settings.fold_seed(0)", SEED_GUARDS),
    Mutation("a fold file written for another test subject is not reused", "mebench/records.py",
             "if name is not None and held_out != name:", "if False and name is not None and held_out != name:",
             FOREIGN_FOLD_GUARDS),
    Mutation("a fold file holding other test samples is not reused", "mebench/records.py",
             "if test_ids is not None and sorted(map(str, ids)) != sorted(test_ids):",
             "if False and test_ids is not None and sorted(map(str, ids)) != sorted(test_ids):",
             FOREIGN_FOLD_GUARDS),
    Mutation("the run id changes with the epochs", "mebench/plan.py",
             f"EXECUTION_LEVERS = {LEVERS}", f'EXECUTION_LEVERS = {LEVERS[:-1]}, "epochs")', RUN_ID_GUARDS),
    Mutation("the run id changes with the preprocessing", "mebench/plan.py",
             f"EXECUTION_LEVERS = {LEVERS}", f'EXECUTION_LEVERS = {LEVERS[:-1]}, "preprocessing")', RUN_ID_GUARDS),
    Mutation("the run id changes with the model options", "mebench/plan.py",
             f"EXECUTION_LEVERS = {LEVERS}", f'EXECUTION_LEVERS = {LEVERS[:-1]}, "model_options")', RUN_ID_GUARDS),
    Mutation("the run id does not change with the device", "mebench/plan.py",
             f"EXECUTION_LEVERS = {LEVERS}", 'EXECUTION_LEVERS = ("seed", "data_root", "fold_batch", "compile")',
             RUN_ID_GUARDS),
    Mutation("the preprocessing cache misses when a step's settings change", "mebench/preprocessing.py",
             "config_hash(chain_config(chain, input_spec))",
             "config_hash([step.name for step in chain] + [input_spec.height, input_spec.width])",
             guard("test_prepare_recomputes_when_a_step_setting_changes")),
    Mutation("a spreadsheet label that disagrees with the official list is reported", "plugins/datasets/megc2019.py",
             "            if clip.label != label:", "            if False and clip.label != label:",
             guard("test_a_spreadsheet_label_that_disagrees_with_the_official_list_is_reported")),
    Mutation("writes are atomic (temporary file, then rename)", "mebench/results.py",
             '        with os.fdopen(fd, "wb") as handle:\n'
             "            handle.write(data)\n"
             "            handle.flush()\n"
             "            os.fsync(handle.fileno())\n"
             "        os.replace(tmp, path)\n",
             "        os.close(fd)\n"
             "        os.unlink(tmp)\n"
             '        with open(path, "wb") as handle:\n'
             "            handle.write(data)\n"
             "            handle.flush()\n"
             "            os.fsync(handle.fileno())\n",
             ATOMIC_GUARDS),
    Mutation("a failed write leaves no temporary file behind", "mebench/results.py",
             "        Path(tmp).unlink(missing_ok=True)\n        raise\n", "        raise\n", ATOMIC_GUARDS),
    Mutation("every sample is seen each epoch; only a trailing batch of one is dropped", "mebench/training.py",
             "if len(batches) > 1 and len(batches[-1]) == 1:", "if len(batches) > 1 and len(batches[-1]) < batch_size:",
             guard("test_epoch_batches_cover_every_sample_but_a_trailing_one")),
    # --- promises guarded before issue 13 ------------------------------------------------------------
    Mutation("train and test subjects asserted disjoint in every fold", "mebench/folds.py",
             "assert not shared, f", "assert True or not shared, f",
             ("tests/test_folds.py",) + guard("test_a_fold_with_a_subject_on_both_sides_is_refused"), "guarded before"),
    Mutation("UF1 is the mean per-class F1", "mebench/metrics.py",
             'labels=present, average="macro"', 'labels=present, average="weighted"',
             ("tests/test_metrics.py",), "guarded before"),
    Mutation("UAR is the mean recall over the classes present in the truth", "mebench/metrics.py",
             "np.mean([recall[c] for c in sorted(set(y_true.tolist()))])",
             "np.mean([recall[c] for c in range(len(classes))])",
             ("tests/test_metrics.py",), "guarded before"),
    Mutation("samples predicted more than once are refused", "mebench/metrics.py",
             'if predictions["sample_id"].duplicated().any():', "if False:",
             ("tests/test_metrics.py::test_duplicate_predictions_are_refused",), "guarded before"),
    Mutation("a killed run resumes from its finished folds", "mebench/runner.py",
             "if f.index not in self.records and (wanted is None", "if (wanted is None",
             ("tests/test_runner.py::test_rerun_is_a_no_op_and_an_interrupted_run_resumes_from_finished_folds",),
             "guarded before"),
    Mutation("--force trains every fold again", "mebench/runner.py",
             "        if force:\n            self.run_dir.clear(keep_locks=True)",
             "        if False:\n            self.run_dir.clear(keep_locks=True)",
             ("tests/test_runner.py::test_rerun_is_a_no_op_and_an_interrupted_run_resumes_from_finished_folds",),
             "guarded before"),
    Mutation("the same seed gives the same predictions", "mebench/training.py",
             "    torch.manual_seed(seed)\n    model = build_model()", "    torch.seed()\n    model = build_model()",
             ("tests/test_runner.py::test_same_seed_same_predictions_and_different_seed_different_run",),
             "guarded before"),
    Mutation("fold-batched training gives the models sequential training gives", "mebench/fold_batching.py",
             "buffer.copy_(buffers[n][j])", "pass",
             ("tests/test_fold_batching.py::test_fold_batched_and_sequential_training_give_the_same_predictions",),
             "guarded before"),
    Mutation("a second prepare reads the cache and recomputes nothing", "mebench/preprocessing.py",
             "if cache is not None and (cached := cache.read(sample)) is not None:", "if False:",
             ("tests/test_preprocessing.py::test_second_prepare_reads_the_cache_and_recomputes_nothing",)
             + guard("test_prepare_recomputes_when_a_step_setting_changes"),
             "guarded before"),
    Mutation("a missing apex falls back to the frame of maximum motion", "plugins/preprocessors/optical_flow.py",
             "target_index, target = self._max_motion(sample, onset)",
             "target_index, target = self._middle(sample), None",
             ("tests/test_preprocessing.py::test_missing_apex_falls_back_to_the_frame_of_maximum_motion",),
             "guarded before"),
    Mutation("a plugin failing to register is reported and skipped", "mebench/registry.py",
             "except Exception as error:  # a broken plugin is reported, not fatal",
             "except ImportError as error:  # a broken plugin is reported, not fatal",
             ("tests/test_registry.py::test_plugin_failing_on_import_or_registration_is_reported_and_skipped",),
             "guarded before"),
    Mutation("the official list has 442 samples (441 in its second version)", "plugins/datasets/megc2019.py",
             "if int(gt_version) == 441:", "if int(gt_version) in (441, 442):",
             guard("test_official_list_counts_and_the_441_version"), "guarded before"),
    Mutation("an unknown emotion is an error naming file, row and fix", "plugins/datasets/formats.py",
             "    if key not in mapping:\n        raise DataError(file, f\"unknown emotion label",
             "    if False:\n        raise DataError(file, f\"unknown emotion label",
             guard("test_an_unknown_emotion_is_an_error_naming_file_row_and_fix"), "guarded before"),
    Mutation("a sample label outside the task's classes is refused, naming the sample", "mebench/data.py",
             "        elif sample.label not in classes:", "        elif False:",
             guard("test_a_label_outside_the_task_classes_is_refused_naming_the_sample"), "guarded before"),
    Mutation("run.json is written last: its presence marks completion", "mebench/results.py",
             '        atomic_write_text(self.path / "predictions.csv", predictions.to_csv(index=False))\n'
             '        atomic_write_json(self.path / "metrics.json", record.metrics.to_json())\n'
             '        atomic_write_json(self.path / "run.json", record.to_json())',
             '        atomic_write_json(self.path / "run.json", record.to_json())\n'
             '        atomic_write_text(self.path / "predictions.csv", predictions.to_csv(index=False))\n'
             '        atomic_write_json(self.path / "metrics.json", record.metrics.to_json())',
             guard("test_run_json_is_written_last_so_an_interrupted_summary_is_not_complete"), "guarded before"),
    # --- promises added by later issues (intervals, significance, protocols, healing) ---------------------
    Mutation("bootstrap intervals resample subjects with replacement", "mebench/statistics.py",
             "draws = rng.integers(0, n_groups, size=(resamples, n_groups))",
             "draws = np.tile(np.arange(n_groups), (resamples, 1))",
             ("tests/test_statistics.py",), "later issue"),
    Mutation("a run's intervals are subject-level (cluster) bootstrap intervals", "mebench/metrics.py",
             'for f in frames]),\n                  frame["subject"][mask], classes)',
             'for f in frames]),\n                  frame["sample_id"][mask], classes)',
             ("tests/test_statistics.py", "tests/test_metrics.py"), "later issue"),
    Mutation("McNemar's exact test counts only the discordant samples", "mebench/statistics.py",
             "binomtest(min(only_first, only_second), discordant, 0.5)",
             "binomtest(min(only_first, only_second), len(first_correct), 0.5)",
             ("tests/test_statistics.py",), "later issue"),
    Mutation("several comparisons get Holm's correction", "mebench/statistics.py",
             "stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])",
             "stepped = np.maximum.accumulate(m * p[order])",
             ("tests/test_statistics.py",), "later issue"),
    Mutation("a damaged cache entry is discarded and recomputed", "mebench/preprocessing.py",
             "        if array is None:\n            self.report(", "        if False:\n            self.report(",
             ("tests/test_preprocessing_cache.py::test_damaged_cache_entries_are_named_discarded_and_recomputed",),
             "later issue"),
    Mutation("stale temporary files of killed writes are removed", "mebench/results.py",
             "if path.is_file() and path.stat().st_mtime < cutoff:", "if False:",
             ("tests/test_preprocessing_cache.py::test_stale_temp_files_go_and_cache_files_follow_the_umask",),
             "later issue"),
    Mutation("a non-finite training loss stops the fold with a clear error", "mebench/training.py",
             "    if math.isfinite(loss):\n        return", "    if True:\n        return",
             ("tests/test_training.py::test_a_non_finite_loss_stops_the_fold_naming_fold_epoch_and_fix",),
             "later issue"),
    # --- promises listed by the lead in notes/new_promises.md --------------------------------------------
    Mutation("protocol folds never share a subject between train and test", "mebench/folds.py",
             "assert not shared, ", "assert True or not shared, ",
             ("tests/test_protocols.py::test_a_fold_sharing_a_subject_is_caught",), "later issue"),
    Mutation("LODO holds out whole databases", "mebench/folds.py",
             "LeaveOneGroupOut(), table, table.datasets,", "LeaveOneGroupOut(), table, table.subjects,",
             ("tests/test_protocols.py::test_lodo_holds_out_each_database_and_refuses_a_single_one",), "later issue"),
    Mutation("k-fold is seeded by the protocol's seed", "mebench/folds.py",
             "random_state=int(seed)", "random_state=0",
             ("tests/test_protocols.py::test_kfold_is_subject_disjoint_stratified_and_seeded",), "later issue"),
    Mutation("inner-val early stopping looks only at training subjects", "mebench/selection.py",
             "index = torch.as_tensor(self.validation, device=self.settings.device)",
             "index = torch.as_tensor(np.concatenate([self.validation, self.fold.test]), device=self.settings.device)",
             ("tests/test_protocols.py::"
              "test_inner_validation_subjects_come_from_the_training_side_and_ignore_the_test_fold",), "later issue"),
    Mutation("a damaged fold record is discarded and retrained", "mebench/records.py",
             'raise RecordError(f"holds predictions for {len(ids)} samples, the fold tests {len(test_ids)} others")',
             "pass",
             FOREIGN_FOLD_GUARDS, "later issue"),
    Mutation("sweep shards partition the grid", "mebench/sweep.py",
             "k % shard[1] == shard[0] - 1", "k % shard[1] <= shard[0] - 1",
             ("tests/test_sweep.py::test_shards_partition_the_grid_tasks",), "later issue"),
    Mutation("a finished run in a sweep is not trained again", "mebench/sweep.py",
             "if run.plan is None or run.complete or summarise_only or not wanted:",
             "if run.plan is None or summarise_only or not wanted:",
             ("tests/test_sweep.py::test_a_failing_run_does_not_stop_the_grid_and_a_rerun_is_a_no_op",)
             + guard("test_a_sweep_over_finished_runs_prepares_trains_and_writes_nothing"), "later issue"),
    Mutation("inference timing stops after a few slow batches", "mebench/timing.py",
             "enough = count >= repeats or (elapsed >= max_seconds and (count >= 2 or elapsed >= max_seconds * count))",
             "enough = count >= repeats",
             ("tests/test_training.py::test_inference_timing_is_time_boxed_for_slow_nets_and_extended_for_fast_ones",),
             "later issue"),
    Mutation("a dataset's suggested batch size is used", "mebench/plan.py",
             "else suggested_batch_size(dataset_spec, task.dataset_options))", "else DEFAULT_BATCH_SIZE)",
             ("tests/test_synthetic.py::test_the_default_preset_is_the_quick_starts_and_suggests_its_training_budget",),
             "later issue"),
    Mutation("a dying preprocessing worker is one clear error", "mebench/preprocessing.py",
             "    except BrokenProcessPool:", "    except ZeroDivisionError:",
             ("tests/test_preprocessing_cache.py::test_a_worker_that_dies_is_one_clear_error_naming_the_likely_causes",),
             "later issue"),
    Mutation("mebench re-entered in its own worker stops (runs and sweeps)", "mebench/runner.py",
             'if getattr(multiprocessing.current_process(), "_inheriting", False):', "if False:", REENTRY_GUARDS,
             "later issue"),
    Mutation("a sweep re-entered in a worker stops too", "mebench/sweep.py",
             "        refuse_worker_reentry()\n        self.registry", "        self.registry", REENTRY_GUARDS,
             "later issue"),
    Mutation("runs on other samples are never ranked in one table", "mebench/leaderboard.py",
             "configuration.selection, configuration.samples_key)", "configuration.selection, \"\")",
             ("tests/test_leaderboard.py::test_rows_on_other_samples_or_protocol_options_get_tables_of_their_own",),
             "later issue"),
    Mutation("a publication's figures sit in one table per dataset and protocol", "mebench/leaderboard.py",
             "if key in homes and f.dataset == name", "if f.dataset == name",
             ("tests/test_leaderboard.py::test_rows_on_other_samples_or_protocol_options_get_tables_of_their_own",),
             "later issue"),
    # --- a house ready for breadth (issue 18): declared options and cards, one lifecycle, a thin CLI ----------
    Mutation("an unknown option of any kind is refused with the valid ones listed", "mebench/options.py",
             "        if option is None:\n", "        if option is None and False:\n", OPTION_GUARDS, "issue 18"),
    Mutation("an option value its declaration does not allow is refused", "mebench/options.py",
             "        if not option.accepts(value):", "        if False:", OPTION_GUARDS, "issue 18"),
    Mutation("a recorded default is part of the run's identity whether given or not", "mebench/options.py",
             "recorded = {option.name: option.default for option in declared if option.recorded}", "recorded = {}",
             guard("test_a_recorded_default_is_part_of_the_run_identity_whether_given_or_not"), "issue 18"),
    Mutation("a spec builds with its declared defaults (waspp is WASPP-Net)", "mebench/data.py",
             "defaults = {option.name: option.default for option in self.options or ()}", "defaults = {}",
             guard("test_a_spec_builds_with_its_declared_defaults"), "issue 18"),
    Mutation("options a plugin does not declare reach its factory, whose complaint is the error", "mebench/plan.py",
             "    if spec.options is None and values:", "    if False:",
             guard("test_a_plugin_that_declares_no_options_gets_them_as_given_and_its_own_complaint_is_the_error"),
             "issue 18"),
    Mutation("a usage error exits 2, a data or run-time error 1", "mebench/cli.py",
             "raise OneLineError(one_line(error), error.exit_code) from None",
             "raise OneLineError(one_line(error), 1) from None",
             ("tests/test_cli.py::test_unknown_model_is_one_line_exit_2_with_close_matches",), "issue 18"),
    Mutation("options given on the command line override a sweep file's", "mebench/sweep.py",
             "cls.from_mapping({**data, **(overrides or {})}", "cls.from_mapping({**(overrides or {}), **data}",
             ("tests/test_sweep.py::test_sweep_file_and_dry_run",), "issue 18"),
    Mutation("compare takes run folders wherever they are", "mebench/cli.py",
             "        if Path(reference).is_dir() or os.sep in reference:", "        if False:",
             ("tests/test_leaderboard.py::test_compare_takes_two_run_folders_wherever_they_are",), "issue 18"),
    # --- the seventeen promises an outside audit broke unnoticed (issue 19), and more of their kind ---------------
    Mutation("per-dataset columns of a composite score that dataset's samples", "mebench/configurations.py",
             'mask = np.ones(len(frame), bool) if scope == ALL else (frame["dataset"] == scope).to_numpy()',
             "mask = np.ones(len(frame), bool)",
             ("tests/test_leaderboard.py::test_per_dataset_columns_score_each_datasets_own_samples",), "issue 19"),
    Mutation("the p vs best column is Holm-adjusted", "mebench/leaderboard.py",
             "for i, p in zip(comparable, holm_adjust(raw)):", "for i, p in zip(comparable, raw):",
             ("tests/test_leaderboard.py::test_the_p_column_is_holm_adjusted_and_marks_follow_the_adjusted_p",),
             "issue 19"),
    Mutation("the paired bootstrap p-value is two-sided", "mebench/statistics.py",
             "extreme = np.abs(delta - observed) >= abs(observed) - 1e-12",
             "extreme = (delta - observed) >= abs(observed) - 1e-12",
             ("tests/test_statistics.py::test_the_paired_p_value_is_two_sided_on_a_case_worked_by_hand",), "issue 19"),
    Mutation("the interval of a multi-seed figure is that of the seeds' mean", "mebench/statistics.py",
             "np.nanmean(values, axis=1) if np.isnan(values).any() else values.mean(axis=1)",
             "values[:, 0]",
             ("tests/test_statistics.py::test_the_interval_of_several_seeds_is_that_of_their_mean",), "issue 19"),
    Mutation("compare counts McNemar's discordant samples of A against B", "mebench/compare.py",
             'mcnemar_exact(a["predicted_label"] == a["true_label"], b["predicted_label"] == b["true_label"])',
             'mcnemar_exact(a["predicted_label"] == a["true_label"], a["predicted_label"] == a["true_label"])',
             ("tests/test_leaderboard.py::test_compare_counts_mcnemar_discordant_samples_of_a_against_b",), "issue 19"),
    Mutation("best is the highest UF1", "mebench/leaderboard.py", 'RANKING_METRIC = "uf1"',
             'RANKING_METRIC = "accuracy"',
             ("tests/test_leaderboard.py::test_best_is_the_highest_uf1_even_where_accuracy_ranks_the_other_way",),
             "issue 19"),
    Mutation("the report's 'reported inside CI' says yes only inside the interval", "mebench/report.py",
             '("yes" if stats[metric][0] <= value <= stats[metric][1] else "no")',
             '("no" if stats[metric][0] <= value <= stats[metric][1] else "yes")',
             ("tests/test_report.py::test_reported_inside_ci_says_yes_only_for_a_figure_inside_the_interval",),
             "issue 19"),
    Mutation("inner-val stops patience epochs after the best", "mebench/selection.py",
             "return epoch - self.best_epoch >= self.patience", "return False",
             ("tests/test_protocols.py::"
              "test_inner_val_stops_patience_epochs_after_the_best_and_scores_the_best_epochs_weights",), "issue 19"),
    Mutation("inner-val's split is seeded by the fold", "mebench/selection.py",
             "inner_validation_split(fold, subjects, settings.fold_seed(fold.index))",
             "inner_validation_split(fold, subjects, settings.fold_seed(0))",
             ("tests/test_protocols.py::test_inner_val_split_is_seeded_by_the_fold",), "issue 19"),
    Mutation("test-oracle scores the epoch of highest test accuracy", "mebench/selection.py",
             "best = int(np.argmax(accuracy))", "best = len(accuracy) - 1",
             ("tests/test_protocols.py::"
              "test_the_oracle_scores_each_folds_best_test_epoch_and_its_inflation_is_oracle_minus_fixed",), "issue 19"),
    Mutation("oracle_inflation is the oracle figure minus the fixed-budget one", "mebench/summarise.py",
             'metrics.pooled.value(k) - fixed_budget["pooled"][k]', 'fixed_budget["pooled"][k] - metrics.pooled.value(k)',
             ("tests/test_protocols.py::"
              "test_the_oracle_scores_each_folds_best_test_epoch_and_its_inflation_is_oracle_minus_fixed",), "issue 19"),
    Mutation("k-fold is class-stratified", "mebench/folds.py", 'name=lambda test: "", y=table.labels)',
             'name=lambda test: "", y=np.zeros(len(table)))',
             ("tests/test_protocols.py::test_kfold_stratifies_whole_subjects_by_class",), "issue 19"),
    Mutation("Ray retries a failed fold task (--retries)", "mebench/ray_executor.py", "max_retries=self.retries",
             "max_retries=0", ("tests/test_sweep.py::test_ray_retries_a_fold_task_that_fails_once",), "issue 19"),
    Mutation("a run folder written by another configuration is refused, not resumed", "mebench/results.py",
             "        if previous is not None and previous != expected:", "        if False:",
             guard("test_a_run_folder_written_by_another_configuration_is_refused_until_forced"), "issue 19"),
    Mutation("the sample set's digest is part of the run id", "mebench/plan.py",
             '"samples_digest": config_hash([(s.id, s.label, s.onset, s.apex, s.offset) for s in task.samples])',
             '"samples_digest": ""', guard("test_the_sample_set_is_part_of_the_run_identity"), "issue 19"),
    Mutation("the pre-flow size reaches the cache key, the run id and run.json", "plugins/preprocessors/optical_flow.py",
             'return {**self.params, "size": self.size, "opencv": cv2.__version__.split(".")[0]}',
             'return {**self.params, "opencv": cv2.__version__.split(".")[0]}',
             guard("test_the_pre_flow_size_reaches_the_cache_key_the_run_id_and_run_json"), "issue 19"),
    Mutation("mebench run prints the chance line beside the result", "mebench/metrics.py",
             '{note}\\n{chance_line(metrics.pooled)}\\n\\n{per_class}', '{note}\\n\\n{per_class}',
             ("tests/test_faults.py::test_a_run_prints_the_chance_level_beside_its_result",), "issue 19"),
    Mutation("a run's first lines state the epochs it uses", "mebench/runner.py",
             '"epochs": plan.settings.epochs,', '"epochs": None,',
             ("tests/test_faults.py::test_a_runs_first_lines_state_the_epochs_it_uses",), "issue 19"),
    Mutation("the timing columns are the seeds' means", "mebench/configurations.py",
             "return (float(np.mean([run.timing.train_seconds_per_fold_mean for run in self.runs])),",
             "return (float(self.runs[0].timing.train_seconds_per_fold_mean),",
             ("tests/test_leaderboard.py::test_timing_size_and_seed_columns_are_the_runs_own_figures",), "issue 19"),
    Mutation("UF1 seed sd is the sample standard deviation over seeds", "mebench/configurations.py",
             "return float(np.std(values, ddof=1))", "return float(np.std(values, ddof=0))",
             ("tests/test_leaderboard.py::test_timing_size_and_seed_columns_are_the_runs_own_figures",), "issue 19"),
    Mutation("the report's measured − reported is measured minus reported", "mebench/report.py",
             '"measured − reported": f"{estimate - value:+.3f}"', '"measured − reported": f"{value - estimate:+.3f}"',
             ("tests/test_report.py::test_reported_inside_ci_says_yes_only_for_a_figure_inside_the_interval",),
             "issue 19"),
    # --- the field's other databases (issue 20) ----------------------------------------------------------------
    Mutation('a CAS(ME)³ sample id carries the onset', 'plugins/datasets/casme3.py',
             'name=f"{filename}_{onset}"',
             'name=filename',
             ('tests/test_databases.py::test_casme3a_counts_per_class_and_subject',
              'tests/test_databases.py::test_casme3a_sample_ids_carry_the_onset_and_samples_are_cut_from_the_recording'), 'issue 20'),
    Mutation('an erratum applies only while the annotation holds its old value', 'plugins/datasets/formats.py',
             '    if fix.old is None:\n        return True',
             '    if True:\n        return True',
             ('tests/test_databases.py::test_an_erratum_whose_old_value_the_sheet_no_longer_holds_is_not_applied_and_says_so',), 'issue 20'),
    Mutation('an erratum naming a clip the annotation does not list says it no longer applies', 'plugins/datasets/catalog.py',
             '        warnings += unmatched_errata(fixes, key, reading.clips)',
             '        warnings += []',
             ('tests/test_databases.py::test_an_erratum_whose_old_value_the_sheet_no_longer_holds_is_not_applied_and_says_so',), 'issue 20'),
    Mutation('the header row is found by name wherever it sits', 'plugins/datasets/formats.py',
             '                if any(_norm(spelling) in cells for spelling in first.spellings):',
             '                if cells[:1] == [_norm(first.name)]:',
             ('tests/test_databases.py::test_the_label_sheet_is_read_by_name_and_its_header_found_by_name',), 'issue 20'),
    Mutation("the worksheet a database names is read (CAS(ME)³ 'label')", 'plugins/datasets/formats.py',
             '        preferred = [n for wish in sheets for n in names if _norm(n) == _norm(wish)][:1]',
             '        preferred = []',
             ('tests/test_databases.py::test_the_label_sheet_is_read_by_name_and_its_header_found_by_name',), 'issue 20'),
    Mutation('columns are matched by any known spelling', 'plugins/datasets/formats.py',
             '        found = next((cells.index(_norm(s)) for s in column.spellings if _norm(s) in cells), None)',
             '        found = cells.index(_norm(column.name)) if _norm(column.name) in cells else None',
             ('tests/test_databases.py::test_the_label_sheet_is_read_by_name_and_its_header_found_by_name',), 'issue 20'),
    Mutation("the annotation file is found by name anywhere below the database's folder", 'plugins/datasets/formats.py',
             '    found = find_files(root, patterns, prune=prune)',
             '    found = find_files(root, patterns, max_depth=0, prune=prune)',
             ('tests/test_databases.py::test_casme3a_counts_per_class_and_subject',), 'issue 20'),
    Mutation('data check warns about samples whose span holds a frame an exception list names', 'plugins/datasets/catalog.py',
             '    listed = [(frame, where) for frame, where in clip.flagged if sample.onset <= frame <= sample.offset]',
             '    listed = []',
             ('tests/test_databases.py::test_the_exception_lists_warn_about_samples_holding_a_listed_frame',), 'issue 20'),
    Mutation('a sample of a whole recording keeps only its onset..offset frames', 'plugins/datasets/catalog.py',
             '    if clip.recording:\n        frames = frames.span(resolved.onset, resolved.offset)',
             '    if False:\n        frames = frames.span(resolved.onset, resolved.offset)',
             ('tests/test_databases.py::test_casme3a_sample_ids_carry_the_onset_and_samples_are_cut_from_the_recording',), 'issue 20'),
    Mutation('a Filename matching its folder only by case is used, with a note', 'plugins/datasets/casme3.py',
             '        if len(same) == 1:',
             '        if False:',
             ('tests/test_databases.py::test_an_upper_case_filename_matches_its_lower_case_folder_with_a_note',), 'issue 20'),
    Mutation('a label naming several emotions keeps its class only when they agree', 'plugins/datasets/formats.py',
             '        return classes.pop() if len(classes) == 1 else None',
             '        return None',
             ('tests/test_databases.py::test_a_label_naming_several_emotions_keeps_its_class_only_when_they_agree',
              'tests/test_databases.py::test_counts_of_the_other_databases'), 'issue 20'),
    Mutation('a composite takes at most one view of the SMIC recordings', 'plugins/datasets/databases.py',
             '    if len(smic) > 1:',
             '    if False:',
             ('tests/test_databases.py::test_composite_members_are_checked',), 'issue 20'),
    Mutation('a composite refuses a member that is not a 3-class task', 'plugins/datasets/catalog.py',
             '    unknown = [name for name in names if name not in valid]',
             '    unknown = []',
             ('tests/test_databases.py::test_composite_members_are_checked',), 'issue 20'),
    Mutation('SMIC-E rows whose video was lost are skipped with a warning', 'plugins/datasets/smic_e.py',
             '        if folder is None and lost:',
             '        if False:',
             ('tests/test_databases.py::test_smic_e_one_sample_per_annotated_span',), 'issue 20'),
    Mutation('each annotated SMIC-E span is a sample', 'plugins/datasets/smic_e.py',
             '                spans.append((number, record[column], offset))',
             '                pass',
             ('tests/test_databases.py::test_smic_e_one_sample_per_annotated_span',), 'issue 20'),
    Mutation('a SMIC-E label that disagrees with the clip name is noted', 'plugins/datasets/smic_e.py',
             '        if label is not None and label != TAGS[key[1]]:',
             '        if False:',
             ('tests/test_databases.py::test_smic_e_one_sample_per_annotated_span',), 'issue 20'),
    Mutation('two rows naming one sample are an error naming both', 'plugins/datasets/catalog.py',
             '            if clip.id in clips:',
             '            if False:',
             ('tests/test_databases.py::test_two_rows_naming_one_sample_are_an_error_naming_both',), 'issue 20'),
    Mutation('an erratum for an unknown dataset is an error naming the line', 'plugins/datasets/formats.py',
             '        if key[0] not in EMOTIONS:',
             '        if False:',
             ('tests/test_databases.py::test_an_erratum_for_an_unknown_dataset_is_an_error_naming_the_line',), 'issue 20'),
    Mutation('MMEW is read in both published layouts', 'plugins/datasets/mmew.py',
             '    for path in find_dirs(frames, lambda d: len(d.relative_to(frames).parts) >= 2, max_depth=3):',
             '    for path in find_dirs(frames, lambda d: len(d.relative_to(frames).parts) >= 2, max_depth=2):',
             ('tests/test_databases.py::test_mmew_reads_both_published_layouts_and_corrects_its_slips_by_rule',), 'issue 20'),
    Mutation("CAS(ME)³'s sad is negative in the 3-class scheme", 'plugins/datasets/formats.py',
             '"anger": "negative", "sad": "negative",\n                "happy": "positive"',
             '"anger": "negative", "sad": None,\n                "happy": "positive"',
             ('tests/test_databases.py::test_casme3a_counts_per_class_and_subject',
              'tests/test_databases.py::test_every_task_maps_its_databases_whole_vocabulary_onto_its_classes'), 'issue 20'),
    Mutation('SMIC VIS and NIR are read from their own camera folders', 'plugins/datasets/smic.py',
             '    return {camera: False, f"SMIC_all_cropped/{camera}": True}',
             '    return {"HS": False, "SMIC_all_cropped/HS": True}',
             ('tests/test_databases.py::test_smic_vis_and_nir_read_the_hs_layout',), 'issue 20'),
    Mutation('data check lists the warnings under their own heading', 'mebench/dataset_check.py',
             '("warnings (they do not block a run)", self.warnings), ',
             '("warnings (they do not block a run)", []), ',
             ('tests/test_databases.py::test_casme3a_data_check_cli_prints_counts_what_it_read_and_the_corrections',), 'issue 20'),
    Mutation('data check says what it read', 'mebench/dataset_check.py',
             '        lines = [self._headline(), *(f"  {line}" for line in self.sources), ""]',
             '        lines = [self._headline(), ""]',
             ('tests/test_databases.py::test_casme3a_data_check_cli_prints_counts_what_it_read_and_the_corrections',), 'issue 20'),
    Mutation('<name>_root and MEBENCH_<NAME> locate every database', 'plugins/datasets/catalog.py',
             '    override = options.get(root_option(root)) or os.environ.get(root_env(root))',
             '    override = options.get(root_option(root))',
             ('tests/test_databases.py::test_root_option_environment_variable_and_sheet_option',), 'issue 20'),
    Mutation("sheet=FILE names a database's annotation", 'plugins/datasets/catalog.py',
             '        sheet = options.get(sheet_option(keys, database.root)) if database.sheet else None',
             '        sheet = None',
             ('tests/test_databases.py::test_root_option_environment_variable_and_sheet_option',
              'tests/test_databases.py::test_the_megc_tasks_take_a_sheet_option_too',
              'tests/test_databases.py::test_a_composite_passes_each_database_its_sheet'), 'issue 20'),
    # --- action-unit detection (issue 21) ---------------------------------------------------------------------
    Mutation('an AU cell the rules cannot read blocks with file, row and value', 'plugins/datasets/au_tasks.py',
             '            problems.append(str(DataError(clip.source, f"{clip.id}: {clip.au.shown} cannot be read: {error}",',
             '            warnings.append(str(DataError(clip.source, f"{clip.id}: {clip.au.shown} cannot be read: {error}",',
             ('tests/test_action_units.py::test_an_unreadable_au_cell_blocks_with_file_row_and_value',), 'issue 21'),
    Mutation("a clip whose AU cell is empty or '?' leaves the AU task and is listed", 'plugins/datasets/au_tasks.py',
             '        if not code.coded:\n            tally["not coded"] += 1',
             '        if False:\n            tally["not coded"] += 1',
             ('tests/test_action_units.py::test_clips_not_coded_leave_the_task_and_are_listed',), 'issue 21'),
    Mutation('alternatives between AUs: alternatives=drop (default) drops the clip, listed', 'plugins/datasets/action_units.py',
             '        if alternatives == "drop":\n            return Resolution(None,',
             '        if False:\n            return Resolution(None,',
             ('tests/test_action_units.py::test_alternatives_and_ref_are_resolved_by_the_tasks_options',
              'tests/test_action_units.py::test_the_rows_a_rule_touched_are_listed'), 'issue 21'),
    Mutation('alternatives next to other codes without parentheses block as ambiguous', 'plugins/datasets/action_units.py',
             '            if len(items) > 1 and not where.startswith("("):',
             '            if False:',
             ('tests/test_action_units.py::test_what_the_rules_cannot_read_raises_with_the_reason',), 'issue 21'),
    Mutation('side, asymmetry and intensity never split an AU (AU12 = L12 = R12A)', 'plugins/datasets/action_units.py',
             '    number = int(match["number"])\n',
             '    number = int(match["number"]) * (2 if match["prefix"] else 1)\n',
             ('tests/test_action_units.py::test_every_spelling_of_the_public_sheets_parses_as_listed',), 'issue 21'),
    Mutation("an AU outside the task's set is ignored", 'plugins/datasets/action_units.py',
             '    return Resolution(tuple(sorted(counted & wanted)), tuple(applied), outside)',
             '    return Resolution(tuple(sorted(counted)), tuple(applied), outside)',
             ('tests/test_action_units.py::test_an_au_outside_the_set_is_ignored_and_reported',), 'issue 21'),
    Mutation("ref(…) follows the ref option (default present: MEB's counts)", 'plugins/datasets/action_units.py',
             '        if ref == "present":\n            counted |= referenced',
             '        if ref == "absent":\n            counted |= referenced',
             ('tests/test_action_units.py::test_alternatives_and_ref_are_resolved_by_the_tasks_options',
              'tests/test_action_units.py::test_the_public_cells_give_mebs_per_au_counts'), 'issue 21'),
    Mutation('a (k) static AU counts as absent', 'plugins/datasets/action_units.py',
             '            (static if distinct[0] in held else present).add(distinct[0])',
             '            present.add(distinct[0])',
             ('tests/test_action_units.py::test_the_issues_spellings_and_the_rules_each_shows',), 'issue 21'),
    Mutation('the full-width comma separates codes (NFKC)', 'plugins/datasets/action_units.py',
             '    return " ".join(unicodedata.normalize("NFKC", text).split())',
             '    return " ".join(text.split())',
             ('tests/test_action_units.py::test_every_spelling_of_the_public_sheets_parses_as_listed',), 'issue 21'),
    Mutation("data check counts the task's own AU set", 'plugins/datasets/au_tasks.py',
             '        return super().render(self.labels or tuple(classes), list_all)',
             '        return super().render(tuple(classes), list_all)',
             ('tests/test_action_units.py::test_another_au_set_changes_the_labels_data_check_counts',), 'issue 21'),
    Mutation('an AU erratum applies only where the sheet still holds its old cell', 'plugins/datasets/formats.py',
             '        return " ".join(str(current if current is not None else "").split()) == " ".join(fix.old.split())',
             '        return True',
             ('tests/test_action_units.py::test_an_erratum_may_correct_an_au_cell_by_clip',), 'issue 21'),
    Mutation("cd6me is MEB's six databases", 'plugins/datasets/au_tasks.py',
             'CD6ME: tuple[str, ...] = ("casme-au", "casme2-au", "samm-au", "4dme-au", "mmew-au", "casme3a-au")',
             'CD6ME: tuple[str, ...] = ("casme-au", "casme2-au", "samm-au", "mmew-au", "casme3a-au")',
             ('tests/test_action_units.py::test_cd6me_holds_the_six_databases_with_subjects_qualified_by_database',), 'issue 21'),
    Mutation('macro-F1 averages the labels present in truth or predictions', 'mebench/statistics.py',
             'np.nansum(f1, axis=-1) / np.maximum(present.sum(axis=-1), 1)',
             'np.nansum(f1, axis=-1) / f1.shape[-1]',
             ('tests/test_multilabel.py::test_f1_per_label_and_macro_f1_by_hand',), 'issue 21'),
    Mutation('a multi-label task trains with binary cross-entropy', 'mebench/training.py',
             '    if targets.dtype.is_floating_point:\n        return F.binary_cross_entropy_with_logits',
             '    if False:\n        return F.binary_cross_entropy_with_logits',
             ('tests/test_multilabel.py::test_binary_cross_entropy_and_positive_weights_from_the_training_fold_only',), 'issue 21'),
    Mutation('positive weights come from the training fold only', 'mebench/training.py',
             'positives = y[train].sum(dim=0)',
             'positives = y.sum(dim=0)',
             ('tests/test_multilabel.py::test_binary_cross_entropy_and_positive_weights_from_the_training_fold_only',), 'issue 21'),
    Mutation("a multi-label net outputs each label's own probability (sigmoid)", 'mebench/training.py',
             'return torch.sigmoid(logits.float()) if multilabel else',
             'return torch.softmax(logits.float(), dim=1) if multilabel else',
             ('tests/test_multilabel.py::test_multi_label_outputs_are_each_labels_own_probability',), 'issue 21'),
    Mutation('the oracle scores a multi-label epoch by macro-F1', 'mebench/selection.py',
             '    if truth.ndim == 1:\n        return (epochs.argmax(axis=2) == truth).mean(axis=1)',
             '    if True:\n        return (epochs.argmax(axis=2) == truth.reshape(truth.shape[0], -1)[:, 0]).mean(axis=1)',
             ('tests/test_multilabel.py::test_the_oracle_scores_a_multi_label_epoch_by_macro_f1',), 'issue 21'),
    Mutation("a multi-label task's chance is its prevalences' mean", 'mebench/metrics.py',
             'return {"macro_f1_none": 0.0, "macro_f1_random": float(present.mean()) if present.size else 0.0}',
             'return {"macro_f1_none": 0.0, "macro_f1_random": 0.0}',
             ('tests/test_multilabel.py::test_chance_of_a_multi_label_task_by_hand',), 'issue 21'),
    Mutation('a multi-label table ranks by macro-F1', 'mebench/leaderboard.py',
             'return cls(names, labels, "macro_f1", LABEL_METRIC_DEFINITIONS, multilabel=True)',
             'return cls(names, labels, names[-1], LABEL_METRIC_DEFINITIONS, multilabel=True)',
             ('tests/test_multilabel.py::test_the_leaderboard_of_a_multi_label_task_ranks_by_macro_f1_with_per_label_columns',), 'issue 21'),
    Mutation("compare tests each label's decisions with McNemar", 'mebench/compare.py',
             'test = mcnemar_exact(right_a[:, k], right_b[:, k])',
             'test = mcnemar_exact(right_a[:, 0], right_b[:, 0])',
             ('tests/test_multilabel.py::test_compare_and_report_on_a_multi_label_task',), 'issue 21'),
    Mutation("a task's classes follow its options (an AU set)", 'mebench/data.py',
             'return tuple(self.classes_for(values)) if self.classes_for is not None else tuple(self.classes)',
             'return tuple(self.classes)',
             ('tests/test_action_units.py::test_another_au_set_changes_the_labels_data_check_counts',), 'issue 21'),
    Mutation("a setting added later (pos_weight) stays out of earlier runs' identity", 'mebench/plan.py',
             '        if resolved[key] == default:\n            del resolved[key]',
             '        if False:\n            del resolved[key]',
             ('tests/test_multilabel.py::test_pos_weight_is_for_multi_label_tasks_and_part_of_the_identity',), 'issue 21'),
    # --- the newer nets and the official baselines (issue 22) ---------------------------------------------------
    Mutation("an estimator is fitted on its fold's training samples only", 'mebench/estimators.py',
             'return estimator.fit(features(x, train), y[torch.as_tensor(np.asarray(train), device=y.device)].cpu().numpy())',
             'return estimator.fit(features(x, np.arange(len(x))), y.cpu().numpy())',
             ('tests/test_estimators.py::test_an_estimator_is_fitted_once_per_fold_and_writes_the_records_a_net_writes',), 'issue 22'),
    Mutation("an estimator's fit is seeded by (seed, fold)", 'mebench/execute.py',
             'estimator = fit_estimator(build, x, y, job.fold.train, job.settings.fold_seed(job.fold.index))',
             'estimator = fit_estimator(build, x, y, job.fold.train, job.settings.fold_seed(0))',
             ('tests/test_estimators.py::test_an_estimator_fit_is_seeded_by_the_run_seed_and_the_fold',), 'issue 22'),
    Mutation('an estimator with inner-val or test-oracle selection is refused in one line', 'mebench/plan.py',
             '    if estimator and config.selection != "fixed":',
             '    if False:',
             ('tests/test_estimators.py::test_an_estimator_with_a_selection_rule_is_refused_in_one_line',
              'tests/test_estimators.py::test_a_selection_refusal_is_a_usage_error_on_the_command_line'), 'issue 22'),
    Mutation('an estimator is never fold-batched', 'mebench/plan.py',
             'fold_batch="off" if estimator else levers.fold_batch',
             'fold_batch=levers.fold_batch',
             ('tests/test_estimators.py::test_an_estimator_is_never_fold_batched_nor_compiled',), 'issue 22'),
    Mutation('an estimator on a multi-label task is refused', 'mebench/plan.py',
             '    if estimator and dataset_spec.multilabel:',
             '    if False:',
             ('tests/test_estimators.py::test_an_estimator_on_a_multi_label_task_is_refused_in_one_line',), 'issue 22'),
    Mutation("a fold that lacked a class gets its estimator's columns in their places", 'mebench/estimators.py',
             'placed[:, classes] = probabilities',
             'placed[:, : probabilities.shape[1]] = probabilities',
             ('tests/test_estimators.py::test_probabilities_of_a_fold_that_lacked_a_class_are_put_in_their_places',), 'issue 22'),
    Mutation('an estimator is recognised before planning builds a net', 'mebench/estimators.py',
             '            return is_estimator(build())',
             '            return False',
             ('tests/test_estimators.py::test_an_estimator_is_fitted_once_per_fold_and_writes_the_records_a_net_writes',), 'issue 22'),
    Mutation("an estimator's card shows no parameters or MACs before fitting", 'mebench/model_card.py',
             '    if is_estimator(model):\n        return ModelFacts(spec, plugin, None, None)\n',
             '',
             ('tests/test_estimators.py::test_an_estimators_card_shows_no_parameters_or_macs_before_fitting',), 'issue 22'),
    Mutation('a feature vector of any length passes the resize', 'mebench/preprocessing.py',
             'resized = image if (h, w) == (input_spec.height, input_spec.width) else cv2.resize(',
             'resized = cv2.resize(',
             ('tests/test_sequence_steps.py::test_the_lbp_top_chain_gives_the_feature_vector_the_model_declares',), 'issue 22'),
    Mutation('TIM is the temporal interpolation model', 'plugins/preprocessors/sequences.py',
             'return 1.0 / length + (2.0 / length) * at_positions @ at_frames.T',
             'return 1.0 / length + (1.0 / length) * at_positions @ at_frames.T',
             ('tests/test_sequence_steps.py::test_tim_is_the_temporal_interpolation_model',
              'tests/test_sequence_steps.py::test_tim_keeps_the_input_frames_at_their_positions_and_a_still_sequence_still'), 'issue 22'),
    Mutation("LBP-TOP's XT neighbours follow the reference code", 'plugins/preprocessors/features.py',
             '"xt": (_offset(rt * sin), 0, _offset(rx * cos)),',
             '"xt": (_offset(-rt * sin), 0, _offset(rx * cos)),',
             ('tests/test_sequence_steps.py::test_lbp_top_codes_are_scikit_images_lbp_on_each_plane',
              'tests/test_sequence_steps.py::test_lbp_top_on_a_brightening_still_face_has_one_code_per_plane'), 'issue 22'),
    Mutation('LBP-TOP histograms are normalised per block and plane', 'plugins/preprocessors/features.py',
             'return (histograms / np.where(totals > 0, totals, 1)).ravel().astype(np.float32)',
             'return histograms.ravel().astype(np.float32)',
             ('tests/test_sequence_steps.py::test_lbp_top_on_a_brightening_still_face_has_one_code_per_plane',
              'tests/test_sequence_steps.py::test_lbp_top_counts_each_centre_pixel_in_the_block_it_lies_in'), 'issue 22'),
    Mutation('Bi-WOOF weighs each block by its summed optical strain', 'plugins/preprocessors/features.py',
             'features.append(histogram * float(strain[top:bottom, left:right].sum()))',
             'features.append(histogram)',
             ('tests/test_sequence_steps.py::test_biwoof_of_a_uniform_flow_votes_one_bin_weighted_by_each_blocks_strain',), 'issue 22'),
    Mutation("Bi-WOOF's blocks are the authors' overlapping bounds", 'plugins/preprocessors/features.py',
             'first = 1 if k == 1 else (k - 1) * h',
             'first = 1 if k == 1 else (k - 1) * h + 1',
             ('tests/test_sequence_steps.py::test_biwoof_blocks_are_the_authors_overlapping_bounds',), 'issue 22'),
    Mutation('EVM leaves the finest and coarsest pyramid levels alone', 'plugins/preprocessors/sequences.py',
             '        if 0 < level < levels - 1:',
             '        if True:',
             ('tests/test_sequence_steps.py::test_evm_level_gains_follow_the_wavelength_cap',), 'issue 22'),
    Mutation("HTNet's patches index [x][y] as the authors do", 'plugins/preprocessors/landmarks.py',
             'centres.append((x, y) if swap_xy else (y, x))',
             'centres.append((y, x))',
             ('tests/test_sequence_steps.py::test_htnet_patches_clamp_truncate_and_index_x_as_rows_as_the_authors_do',), 'issue 22'),
    Mutation("HTNet's landmarks are clamped to [7, 21]", 'plugins/preprocessors/landmarks.py',
             'x, y = (int(min(max(value, half), grid - half)) for value in (x, y))',
             'x, y = (int(value) for value in (x, y))',
             ('tests/test_sequence_steps.py::test_htnet_patches_clamp_truncate_and_index_x_as_rows_as_the_authors_do',), 'issue 22'),
    Mutation("optical_strain's default form keeps existing cache keys and run ids", 'plugins/preprocessors/optical_flow.py',
             'return {} if self.form == "tensor" else {"form": self.form}',
             'return {"form": self.form}',
             ('tests/test_sequence_steps.py::test_optical_strains_default_form_leaves_the_config_and_so_every_existing_cache_key_as_it_was',), 'issue 22'),
    Mutation("RCN's attention unit reads the live classifier weights", 'plugins/models/rcn.py',
             'maps = torch.einsum("kchw,nchw->nkhw", weight.reshape(classes, -1, height, width), features)',
             'maps = torch.einsum("kchw,nchw->nkhw", weight.detach().reshape(classes, -1, height, width), features)',
             ('tests/test_mer_nets.py::test_the_attention_unit_is_the_class_activation_map_of_the_live_classifier_weights',), 'issue 22'),
    Mutation("RCN-F reads its second stem twice, as the authors' forward does", 'plugins/models/rcn.py',
             'x = torch.cat([first(x), second(x), second(x)], dim=1)',
             'x = torch.cat([first(x), second(x), _third(x)], dim=1)',
             ('tests/test_mer_nets.py::test_rcn_f_reads_its_second_stem_twice_as_the_authors_forward_does',
              'tests/test_mer_nets.py::test_rcn_modules_built_but_never_called_get_no_gradient'), 'issue 22'),
    Mutation('RCN builds the modules the authors build but never call', 'plugins/models/rcn.py',
             "        self.conv3 = conv_bn_relu(channels, channels, 3, padding=1)  # unused (the authors' definition)",
             '        self.conv3 = nn.Identity()',
             ('tests/test_mer_nets.py::test_parameter_count_is_the_authors_definitions',
              'tests/test_mer_nets.py::test_rcn_counts_add_up_from_the_authors_modules'), 'issue 22'),
    Mutation('HTNet doubles the heads per level', 'plugins/models/htnet.py',
             'Transformer(width, positions, depth, heads * 2 ** i, mlp_mult, dropout)',
             'Transformer(width, positions, depth, heads, mlp_mult, dropout)',
             ('tests/test_mer_nets.py::test_parameter_count_is_the_authors_definitions',
              'tests/test_mer_nets.py::test_htnet_levels_widths_heads_and_the_one_token_blocks'), 'issue 22'),
    Mutation("Off-TANet's attention is one softmax over each channel's whole affinity map", 'plugins/models/offtanet.py',
             'weights = torch.softmax(affinity.flatten(2), dim=-1).view_as(affinity)',
             'weights = torch.softmax(affinity, dim=-1)',
             ('tests/test_mer_nets.py::test_offtanet_attention_is_per_channel_row_affinity_times_the_values',), 'issue 22'),
    Mutation("IncepTR's MSAD zeroes a token as the authors' code does", 'plugins/models/inceptr.py',
             '        if self.mode == "token":  # zero (token i, every q/k/v, every head)',
             '        if self.mode != "token":  # zero (token i, every q/k/v, every head)',
             ('tests/test_mer_nets.py::test_inceptr_msad_zeroes_a_token_as_the_authors_code_or_a_head_as_the_paper',), 'issue 22'),
    Mutation("IncepTR's stochastic-depth rates are the authors' torch.linspace", 'plugins/models/inceptr.py',
             'rates = torch.linspace(0, drop_path, depth, device="cpu").tolist()',
             'rates = [float(r) for r in __import__("numpy").linspace(0, drop_path, depth, dtype="float32")]',
             ('tests/test_mer_nets.py::test_inceptr_stochastic_depth_rates_are_the_authors_torch_linspace',),
             'issue 22'),
    Mutation("the SVM baselines predict libsvm's vote", 'plugins/models/svm_baselines.py',
             'scores[:, self.classes_] = decision',
             'scores[:, self.classes_] = -decision',
             ('tests/test_baselines.py::test_linear_svm_predicts_libsvms_vote_with_one_column_per_class',), 'issue 22'),
    Mutation("the SVM baselines count their hyperplanes' weights and intercepts", 'plugins/models/svm_baselines.py',
             '(self.svm_.coef_.size + self.svm_.intercept_.size)',
             '(self.svm_.coef_.size)',
             ('tests/test_baselines.py::test_linear_svm_predicts_libsvms_vote_with_one_column_per_class',), 'issue 22'),
]


def checkout_files(repo: Path) -> list[str]:
    """Tracked and untracked files that git does not ignore, as they are now in the working tree."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout
    return sorted({name for name in listed.split("\0") if name and (repo / name).is_file()})


def make_scratch(repo: Path, folder: Path) -> Path:
    scratch = folder / "repo"
    for name in checkout_files(repo):
        target = scratch / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, target)
    (scratch / "mebench_plugins").symlink_to("plugins", target_is_directory=True)
    return scratch


def child_environment(scratch: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")  # a stale .pyc of a mutated file must never be read
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(scratch), os.environ.get("PYTHONPATH")]))
    return env


def _forked_pytest(scratch: str, args: list[str], log_path: str) -> None:
    """Body of a forked child: run pytest on the scratch copy, output to ``log_path``."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(child_environment(Path(scratch)))
    sys.dont_write_bytecode = True
    sys.path.insert(0, scratch)
    os.chdir(scratch)
    import pytest

    code = pytest.main(args)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code))


def run_pytest(scratch: Path, args: list[str], log_path: Path, fresh: bool, timeout: float) -> int | None:
    """pytest's exit status on the scratch copy, or None when it ran past ``timeout``."""
    if fresh:
        with open(log_path, "wb") as log:
            try:
                return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=scratch, stdout=log,
                                      stderr=subprocess.STDOUT, env=child_environment(scratch),
                                      timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                return None
    child = multiprocessing.get_context("fork").Process(target=_forked_pytest,
                                                        args=(str(scratch), args, str(log_path)))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return None
    return child.exitcode


def _report_origins(scratch: str, result_path: str) -> None:
    sys.path.insert(0, scratch)
    lines = []
    for name in ("mebench", "mebench_plugins", "mebench_plugins.datasets.megc2019"):
        lines.append(f"{name} {importlib.import_module(name).__file__}")
    Path(result_path).write_text("\n".join(lines) + "\n")
    os._exit(0)


def check_imports(scratch: Path, fresh: bool, work: Path) -> list[str]:
    """Where the children import mebench from; raises unless it is the scratch copy."""
    result = work / "origins.txt"
    if fresh:
        code = (f"import importlib, pathlib; pathlib.Path({str(result)!r}).write_text(''.join("
                f"f'{{n}} {{importlib.import_module(n).__file__}}\\n' for n in "
                f"('mebench', 'mebench_plugins', 'mebench_plugins.datasets.megc2019')))")
        subprocess.run([sys.executable, "-c", code], cwd=scratch, env=child_environment(scratch), check=True)
    else:
        child = multiprocessing.get_context("fork").Process(target=_report_origins, args=(str(scratch), str(result)))
        child.start()
        child.join()
    lines = result.read_text().splitlines()
    outside = [line for line in lines if not line.split(" ", 1)[1].startswith(str(scratch))]
    if outside:
        raise SystemExit(f"the scratch copy is not what gets imported: {'; '.join(outside)}")
    return lines


PYTEST_ARGS = ["-q", "-p", "no:cacheprovider"]


def failing_nodes(output: str) -> list[str]:
    """Node ids (or files, for collection errors) in pytest's ``-rfE`` short summary."""
    nodes = []
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            nodes.append(line.split(" ", 1)[1].split(" - ", 1)[0].strip())
    return nodes


def covers(guard_id: str, node: str) -> bool:
    """Whether the guard ``guard_id`` (a file or a test, maybe unparametrised) includes ``node``."""
    return node == guard_id or node.startswith((guard_id + "::", guard_id + "[")) or guard_id.startswith(node + "::")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="run only the mutations whose promise or source (issue 13, guarded before, "
                                       "later issue) contains this text")
    parser.add_argument("--list", action="store_true",
                        help="list the mutations and their guards and say which snippets no longer match; run nothing")
    parser.add_argument("--fresh", action="store_true", help="a new interpreter per mutation instead of a fork")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per mutation (default 300)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and the pytest logs")
    args = parser.parse_args(argv)

    mutations = [m for m in MUTATIONS if not args.only or args.only.lower() in f"{m.promise} [{m.source}]".lower()]
    if args.list:
        drifted = 0
        for m in mutations:
            path = REPO / m.file
            count = path.read_text(encoding="utf-8").count(m.old) if path.exists() else 0
            drifted += count != 1
            state = "" if count == 1 else f" — snippet {'not found' if count == 0 else f'found {count} times'}"
            print(f"{m.promise} [{m.source}] — {m.file}{state}\n    " + "\n    ".join(m.guards))
        return 1 if drifted else 0
    if not mutations:
        print(f"no mutation's promise contains {args.only!r}")
        return 1
    if not args.fresh:
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:
                pass  # the children import it themselves, if they need it
        assert not any(name == "mebench" or name.startswith(("mebench.", "mebench_plugins")) for name in sys.modules)

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="mebench-mutations-"))
    try:
        scratch = make_scratch(REPO, work)
        for line in check_imports(scratch, args.fresh, work):
            print(f"imports from the scratch copy: {line}")
        guards = list(dict.fromkeys(g for m in mutations for g in m.guards))
        baseline_log = work / "baseline.log"
        # every guard once on the unchanged code; a failing one is reported and left out below
        code = run_pytest(scratch, PYTEST_ARGS + ["-rfE", "--continue-on-collection-errors",
                                                  f"--basetemp={work / 'pytest-baseline'}", *guards],
                          baseline_log, args.fresh, args.timeout * 3)
        broken = failing_nodes(baseline_log.read_text(errors="replace")) if code is not None else guards
        if code not in (0, 1) or (code == 1 and not broken):
            print(baseline_log.read_text(errors="replace")[-4000:])
            print(f"the guards could not run on the unchanged code (pytest exit {code})")
            return 1
        for node in broken:
            print(f"warning: {node} fails on the unchanged code; it guards nothing in this check")
        args.keep |= bool(broken)
        print(f"baseline: {len(guards)} guards run on the unchanged code, {len(broken)} failing "
              f"({time.perf_counter() - started:.0f} s so far)")

        rows, clean = [], True
        for number, mutation in enumerate(mutations, start=1):
            path = scratch / mutation.file
            original = path.read_text(encoding="utf-8") if path.exists() else None
            count = original.count(mutation.old) if original is not None else 0
            live_guards = [g for g in mutation.guards if not any(covers(g, node) for node in broken)]
            if count != 1:
                status, seconds = "snippet not found" if count == 0 else f"snippet found {count} times", 0.0
            elif not live_guards:
                status, seconds = "no guard passes on the unchanged code", 0.0
            else:
                path.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
                log = work / f"mutation_{number:02d}.log"
                start = time.perf_counter()
                try:
                    code = run_pytest(scratch, PYTEST_ARGS + ["-x", f"--basetemp={work / f'pytest-{number:02d}'}",
                                                     *live_guards], log, args.fresh, args.timeout)
                finally:
                    path.write_text(original, encoding="utf-8")
                seconds = time.perf_counter() - start
                # pytest exit 1: a test failed (caught); 0: all passed; other codes: the tests did not run
                status = {0: "NOT caught", 1: "caught", None: "timed out"}.get(code, f"error (pytest exit {code})")
                if status.startswith("error") or status == "timed out":
                    print(f"{mutation.promise}: {status}; log: {log}")
                    args.keep = True
            clean &= status == "caught"
            rows.append([number, mutation.promise, mutation.source, mutation.file, status, f"{seconds:.1f}"])
            print(f"[{number}/{len(mutations)}] {status}: {mutation.promise}", flush=True)
        print()
        print(tabulate(rows, headers=["#", "promise", "guard", "file", "result", "seconds"], tablefmt="github"))
        caught = sum(row[4] == "caught" for row in rows)
        print(f"\n{caught} of {len(rows)} mutations caught in {time.perf_counter() - started:.0f} s")
        return 0 if clean else 1
    finally:
        if args.keep:
            print(f"scratch copy and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
