# Test double of a board's `machine` module: Pin and an RTC that records what is set
# (the host's clock is never touched).
rtc_set = []


def Pin(n):
    return ("Pin", n)


class RTC:
    def datetime(self, t=None):
        if t is not None:
            rtc_set.append(t)
