import json


class Inventory:
    def __init__(self):
        self.items = {}

    def add(self, name, count=1):
        self.items[name] = self.items.get(name, 0) + count
        return self.items[name]

    @staticmethod
    def load(text):
        inv = Inventory()
        for name, count in json.loads(text).items():
            inv.add(name, count)
        return inv


def total(inv):
    # add up every count
    return sum(inv.items.values())
