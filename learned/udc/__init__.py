"""UDC (Unified Divide-and-Conquer, Zheng et al. 2024) dividing network for TSP / CVRP."""
