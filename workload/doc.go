// Package workload builds the requests of a benchmark workload: the
// workloads: entries of engines.yaml (config.WorkloadSpec) as
// cell.Sources, one kind per file:
//
//   - dataset (dataset.go, sharegpt.go, jsonl.go): prompts from a ShareGPT
//     JSON or JSONL file, filtered by length and sampled with the run's
//     seed, each salted at its start (cell.Salter.Next);
//   - synthetic (synthetic.go): input and output lengths drawn from
//     distributions (dist.go), the input text made to exactly that many
//     tokens of the engine's tokenizer where it has a tokenize route,
//     else to 4 bytes a token (fit.go);
//   - shared_prefix (sharedprefix.go): groups of requests sharing a
//     prefix, salted per group, so prefix caches hit within a group only;
//   - multi_turn (multiturn.go): sessions of turns that send the
//     conversation so far with the model's actual answers, a think time
//     apart, salted per session; closed loop only.
//
// Every random draw comes from the run's seed and the workload's name,
// so every engine of a run gets the same requests. See README.md,
// "Workloads".
package workload
