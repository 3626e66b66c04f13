package engines_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines"
	"github.com/infbench/infbench/engines/sim"
)

// Bring up the built-in simulated engine from an engines.yaml entry (here
// built in code), read the endpoint a load generator needs and the
// configuration lines that go before the benchmark output, and stop it.
// Container engines (kind container) go through the same three calls.
func ExampleNew() {
	e := config.Engine{Name: "sim", Kind: config.KindSim, Model: "llama-sim",
		Sim: &config.SimSpec{MaxBatch: 8, Timing: sim.Linear{Base: 2 * time.Millisecond, PerSeq: 100 * time.Microsecond}}}
	eng, err := engines.New(e, &config.Run{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	ep, err := eng.Start(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Stop(ctx)

	fmt.Println("model:", ep.Model, "ignore_eos:", ep.IgnoreEOS, "include_usage:", ep.IncludeUsage)
	for _, l := range ep.Info {
		fmt.Printf("%s: %s\n", l.Key, l.Value)
	}
	// Output:
	// model: llama-sim ignore_eos: true include_usage: true
	// engine-sim-kind: simulator
	// engine-sim-model: llama-sim
	// engine-sim-timing: step 2ms + 100µs/seq + 0s/prefill-token + 0s/context-token
	// engine-sim-max-batch: 8
}
