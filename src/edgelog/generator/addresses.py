"""Client addresses of human visits: new visitors, revisits and shared (carrier-grade NAT, office) addresses.

A fixed pool of a few thousand addresses cannot carry a day of traffic: at 20 requests/s a shop sees about a
hundred thousand visits a day, and most visitors come from an address that appears once. So an address is
made per visit: most visits get a fresh one inside an access network's prefix (Zipf-weighted, big ISPs
first), some come back from an address seen earlier that day (the same household or phone), and some share
one of a few hundred gateway addresses with many unrelated visitors (mobile carriers' CGNAT, offices).
"""

from __future__ import annotations

import random

from edgelog.generator.pools import Pools, WeightedTable, weighted_table, zipf_weights

RECENT = 4096  # how many earlier fresh addresses a revisit can come back from


class ClientAddresses:
    """Draws the client address of one human visit."""

    def __init__(self, pools: Pools, *, ipv6_share: float, shared_share: float, revisit_share: float):
        # the tables depend on the pools alone: shared by every engine of the process (``weighted_table``)
        self.v4 = _zipf_table(pools.isp_v4, 0.8)
        self.v6 = _zipf_table(pools.isp_v6, 0.8)
        self.shared = _zipf_table(pools.shared_addresses, 0.6)
        self.ipv6_share = ipv6_share
        self.shared_share = shared_share
        self.revisit_until = shared_share + revisit_share
        self.recent: list[str] = []
        self.next = 0

    def draw(self, rng: random.Random) -> str:
        u = rng.random()
        if u < self.shared_share:
            return self.shared.draw(rng)
        recent = self.recent
        if u < self.revisit_until and recent:
            return recent[int(rng.random() * len(recent))]
        r = rng.getrandbits
        if rng.random() < self.ipv6_share:  # a /64 of the access network, a privacy interface id
            addr = f"{self.v6.draw(rng)}:{r(16):x}:{r(16):x}:{r(16):x}:{r(16):x}:{r(16):x}:{r(16):x}"
        else:
            addr = f"{self.v4.draw(rng)}.{r(8)}.{1 + r(8) % 254}"
        if len(recent) < RECENT:
            recent.append(addr)
        else:
            recent[self.next] = addr
            self.next = (self.next + 1) % RECENT
        return addr


def _zipf_table(items: list[str], s: float) -> WeightedTable:
    return weighted_table(tuple(items), tuple(zipf_weights(len(items), s)))
