"""The widgets: the plot and its views, the table, the timeline, the tabs, the controls panel, dialogs, menus."""
