"""Solutions to the exercises of notebook 11."""


def pareto(table):
    front, best = [], float("-inf")
    for name, row in table.sort_values(["ms_per_text", "average"], ascending=[True, False]).iterrows():
        if row["average"] > best:
            front.append(name)
            best = row["average"]
    return front


def best_under_budget(table, max_ms):
    affordable = table[table["ms_per_text"] <= max_ms]
    return None if affordable.empty else affordable["average"].idxmax()
