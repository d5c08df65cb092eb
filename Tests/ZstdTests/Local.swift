// local placeholder so the package resolves; the real ZstdTests live on main
