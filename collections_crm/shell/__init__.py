"""The UI shell: the home page and the navigation, on top of every interface."""
