from bot.ratelimit import RateLimiter


class FakeTime:
    def __init__(self):
        self.t = 0.0

    def clock(self):
        return self.t

    def sleep(self, s):
        self.t += s


def test_global_rate_and_per_chat_interval():
    ft = FakeTime()
    rl = RateLimiter(per_second=30, per_chat_interval=1.0, clock=ft.clock, sleep=ft.sleep)
    for i in range(300):
        rl.acquire(f"chat-{i}")
    assert 9.9 <= ft.t <= 10.0  # 300 messages to different chats at 30/s
    ft2 = FakeTime()
    rl2 = RateLimiter(per_second=30, clock=ft2.clock, sleep=ft2.sleep)
    for _ in range(5):
        rl2.acquire("same")
    assert 4.0 <= ft2.t < 4.1  # one per second to the same private chat


def test_group_limit_and_penalty():
    ft = FakeTime()
    rl = RateLimiter(per_second=30, per_chat_interval=0, group_per_minute=20, clock=ft.clock, sleep=ft.sleep)
    for _ in range(21):
        rl.acquire("-100", is_group=True)
    assert ft.t >= 60
    t0 = ft.t
    rl.penalise(5)
    rl.acquire("x")
    assert ft.t >= t0 + 5
