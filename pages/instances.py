"""Instances: the list of every customer's instances."""

import streamlit as st

from console.session import kaiten

st.title("Instances")
st.caption("Deployments of your product for each customer.")
instances = kaiten().instances.list()
if instances.empty:
    st.info("No instances yet — create one, or run `kaiten demo`.")
else:
    st.dataframe(
        instances[["name", "slug", "customer", "license", "deployment_zone", "license_start",
                   "license_end", "description"]],
        hide_index=True,
        width="stretch",
    )
