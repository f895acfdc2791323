"""The model repository as served: version folders, loaded versions, the live set and model packages."""
