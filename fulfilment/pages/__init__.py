"""The traveller's pages, reached through signed links (`fulfilment/links.py`): the eSIM's
install page (`esim`) and the card payment page (`payment`). Interface code: the
`no-ui-below` import contract keeps models, services and tasks from importing it."""
