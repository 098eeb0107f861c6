"""Transform chains: buffers computed from links (immediate data, files, ...)."""

from gsp.transforms.transform_chain import TransformChain
from gsp.transforms.transform_link_base import TransformLinkBase, register_link, registered_links
from gsp.transforms.transform_link_immediate import TransformLinkImmediate
from gsp.transforms.transform_link_load import TransformLinkLoad

__all__ = [
    "TransformChain",
    "TransformLinkBase",
    "TransformLinkImmediate",
    "TransformLinkLoad",
    "register_link",
    "registered_links",
]
