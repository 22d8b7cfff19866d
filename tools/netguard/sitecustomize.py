# Put on PYTHONPATH (with tools/) by the snippet runner so that scripts it starts run
# with the same no-network guard as the pytest process.
import no_network

no_network.install()
