//go:build gpu

package engines

// GPUBuild reports whether the benchmark selects the GPU container engines
// (vLLM, SGLang, TensorRT-LLM): true only with -tags=gpu. The container
// path itself is compiled into every build, so that it is tested without a
// GPU against a simulator image.
const GPUBuild = true
