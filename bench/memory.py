"""Peak memory for the benchmarks: this process and its children, or the CUDA allocator's peak."""

from __future__ import annotations

import threading

import psutil


class PeakMemory:
    """Peak resident memory of this process plus its children (ffmpeg), sampled every 20 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.02)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class CudaPeakMemory:
    """The CUDA allocator's peak while timing (RSS says nothing about GPU memory)."""

    peak = 0

    def __enter__(self) -> CudaPeakMemory:
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *exc) -> None:
        import torch

        torch.cuda.synchronize()
        self.peak = torch.cuda.max_memory_allocated()


def peak_memory(device: str = "cpu") -> PeakMemory | CudaPeakMemory:
    return CudaPeakMemory() if device == "cuda" else PeakMemory()
