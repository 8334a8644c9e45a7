"""NVML through ctypes (libnvidia-ml.so.1 comes with the driver; no pynvml needed): a
GPU's energy counter and a utilisation sampler. Every reading is None without NVML."""
import ctypes, threading, time


class Meter:
    def __init__(self, gpu=0):
        self.lib = self.dev = None
        try:
            lib = ctypes.CDLL("libnvidia-ml.so.1")
            dev = ctypes.c_void_p()
            if lib.nvmlInit_v2() == 0 and lib.nvmlDeviceGetHandleByIndex_v2(gpu, ctypes.byref(dev)) == 0:
                self.lib, self.dev = lib, dev
        except OSError:
            pass
        self._samples, self._stop, self._thread = [], None, None

    def joules(self):
        """The energy counter in joules, or None."""
        if not self.lib:
            return None
        mj = ctypes.c_ulonglong()
        if self.lib.nvmlDeviceGetTotalEnergyConsumption(self.dev, ctypes.byref(mj)) != 0:
            return None
        return mj.value / 1000.0

    def start(self):
        """Samples utilisation every 50 ms until stop()."""
        if not self.lib:
            return
        self._samples, self._stop = [], threading.Event()
        rates = (ctypes.c_uint * 2)()

        def sample():
            while not self._stop.is_set():
                if self.lib.nvmlDeviceGetUtilizationRates(self.dev, ctypes.byref(rates)) == 0:
                    self._samples.append(rates[0])
                time.sleep(0.05)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self):
        """Mean utilisation (percent) since start(), or None."""
        if not self._thread:
            return None
        self._stop.set()
        self._thread.join()
        self._thread = None
        return sum(self._samples) / len(self._samples) if self._samples else None
