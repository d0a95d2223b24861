"""The CPU's model name, which every benchmark prints beside its numbers."""


def cpu_model(fallback):
    """The first "model name" of /proc/cpuinfo, or `fallback` where there is none (not Linux)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return fallback
